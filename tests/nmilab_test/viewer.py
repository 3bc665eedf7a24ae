"""make test's checks of the viewer (docs/viewer/, written by make viewer: tools/viewer.py).

Pages that stay true: each recording is made again in a scenario (`viewer nmi-pf-nested
nmi=nested`, ...: the kernel's own scenario with the recorder attached, judged as make test
judges it) and compared, step by step, with the recording in the committed page: the sequence of
RIPs and the events at each step. A RIP is compared as function+offset, not as an address: an
unrelated change elsewhere in the kernel moves functions (every address after it changes) but
leaves the offsets inside the functions the NMI runs through alone, while a change to one of those
functions (the entry code, the handler) changes offsets or the path, and the page then shows
instructions the kernel no longer runs: that fails, until make viewer is run again. Stack words
and register values are not compared: they are addresses too.

In a browser: tests/viewer_browser.py opens each committed page and the index in headless
Chromium (Debian's python3-selenium is for Debian's python3, hence a process of its own)."""
import os
import subprocess
import sys

from .paths import LOGS, ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
from viewer_page import page_name, read_recording  # noqa: E402
from viewer_record import RECORDINGS, recording_scenario  # noqa: E402

DOCS_VIEWER = os.path.join(ROOT, "docs", "viewer")
BROWSER_PYTHON = "/usr/bin/python3"  # Debian's, with python3-selenium


def path_of(recording):
    """What a page must still match: each step's function+offset and the keys of its events."""
    return [(step["at"], [key for key, _ in step["events"]]) for step in recording["steps"]]


def difference(page, fresh):
    """None when the page's recording and a fresh one ran the same path, else where they part."""
    old, new = path_of(page), path_of(fresh)
    for i, (was, now) in enumerate(zip(old, new)):
        if was != now:
            return (
                f"step {i + 1}: the page shows {was[0]} {was[1] or ''}, the kernel now runs "
                f"{now[0]} {now[1] or ''}"
            )
    if len(old) != len(new):
        return f"the page has {len(old)} steps, the kernel's path now {len(new)}"
    return None


def stays_true(log, recorder):
    """The check of a viewer scenario: the committed page still shows this recording."""
    name = page_name(dict(strategy=recorder.strategy, kind=recorder.kind))
    page = os.path.join(DOCS_VIEWER, name)
    if not os.path.exists(page):
        return f"no {os.path.relpath(page, ROOT)}: run make viewer"
    parted = difference(read_recording(page), recorder.result(log))
    if parted:
        return (
            f"docs/viewer/{name} no longer shows what the kernel does ({parted}): run make "
            "viewer and commit docs/viewer/"
        )
    return None


def viewer_scenarios():
    return [recording_scenario(strategy, kind, stays_true)[0] for strategy, kind in RECORDINGS]


def browser_checks():
    """tests/viewer_browser.py, under Debian's python3: yields (ok, lines) per page checked."""
    result = subprocess.run(
        [BROWSER_PYTHON, os.path.join(ROOT, "tests", "viewer_browser.py"), DOCS_VIEWER, LOGS],
        capture_output=True,
        text=True,
    )
    lines = result.stdout.splitlines()
    for line in lines:
        verdict, _, what = line.partition(" ")
        if verdict in ("ok", "FAIL"):
            yield verdict == "ok", [what]
    if result.returncode and not any(line.startswith("FAIL") for line in lines):
        yield False, ["the browser check did not run"] + result.stderr.strip().splitlines()[-5:]
