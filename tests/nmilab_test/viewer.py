"""make test's checks of the viewer (docs/viewer/, written by make viewer: tools/viewer.py).

Pages that stay true: each recording is made again in a scenario (`viewer nmi-pf-nested
nmi=nested`, ...: the kernel's own scenario with the recorder attached, judged as make test
judges it) and compared, step by step, with the recording in the committed page: the sequence of
RIPs and the events at each step. A RIP is compared as function+offset, not as an address: an
unrelated change elsewhere in the kernel moves functions (every address after it changes) but
leaves the offsets inside the functions the NMI runs through alone, while a change to one of those
functions (the entry code, the handler) changes offsets or the path, and the page then shows
instructions the kernel no longer runs: that fails, until make viewer is run again. Stack words
and register values are not compared: they are addresses too. A kernel built by another C
compiler than the pages' (make CC=clang, a cross compiler) has other offsets in every C function
for the same source: then only the steps in the assembly and the order of the events are
compared, which do not depend on it.

In a browser: tests/viewer_browser.py opens each committed page and the index in headless
Chromium (Debian's python3-selenium is for Debian's python3, hence a process of its own).

Written from the templates: template_checks() finds a page whose HTML around its recording is
not what tools/viewer_template.html (or viewer_index.html) now makes.

In a lab's handout: the pages carry the kernel's source and instructions, solutions included;
a handout has them with its own source and the solution's steps hidden (tree.py), and
handout_checks() looks for any line of a solution in them."""
import json
import os
import re
import subprocess
import sys

from .paths import LOGS, ROOT
from .tree import MARK, handout_text, marked_labs

sys.path.insert(0, os.path.join(ROOT, "tools"))
from viewer_page import RECORDING_ELEMENT, hide_solutions, page_name, read_recording  # noqa: E402
from viewer_record import RECORDINGS, recording_scenario  # noqa: E402

DOCS_VIEWER = os.path.join(ROOT, "docs", "viewer")
BROWSER_PYTHON = "/usr/bin/python3"  # Debian's, with python3-selenium


def path_of(recording):
    """What a page must still match: each step's function+offset and the keys of its events."""
    return [(step["at"], [key for key, _ in step["events"]]) for step in recording["steps"]]


def shown(step):
    at, events = step
    return f"{at} ({', '.join(events)})" if events else at


def assembly_path_of(recording):
    """What must match whatever compiled the C: the steps in the assembly, and the events."""
    steps = [s for s in recording["steps"] if s["src"].split(":")[0].endswith((".asm", ".inc"))]
    events = [key for step in recording["steps"] for key, _ in step["events"]]
    return [(step["at"], []) for step in steps] + [("events", events)]


def difference(page, fresh):
    """None when the page's recording and a fresh one ran the same path, else where they part."""
    if page.get("compiler") != fresh["compiler"]:
        parted = difference_in(assembly_path_of(page), assembly_path_of(fresh), "assembly step")
        return parted and (
            f"{parted}; the pages were made with {page.get('compiler')}, this kernel with "
            f"{fresh['compiler']}: only the assembly's steps and the events were compared"
        )
    return difference_in(path_of(page), path_of(fresh))


def difference_in(old, new, what="step"):
    for i, (was, now) in enumerate(zip(old, new)):
        if was != now:
            return f"{what} {i + 1}: the page shows {shown(was)}, the kernel now runs {shown(now)}"
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


def solution_lines(first_lab):
    """The lines of the solutions a handout of `first_lab` takes out (long enough to be telling,
    and found nowhere else in the handout's file)."""
    lines = set()
    for path in sorted({p for paths in marked_labs().values() for p in paths}):
        inside, taken = False, set()
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        for line in text.splitlines():
            mark = MARK.match(line)
            if mark and int(mark.group(2)) >= first_lab:
                inside = mark.group(3) == "BEGIN"
            elif inside and len(line.strip()) > 12:
                taken.add(line.strip())
        kept = {line.strip() for line in handout_text(text, first_lab, path)[0].splitlines()}
        lines |= taken - kept
    return lines


def handout_checks():
    """Each lab's handout of each page shows none of that lab's solution lines: (ok, lines)."""
    pages = [page_name(dict(strategy=s, kind=k)) for s, k in RECORDINGS]
    for lab in sorted(marked_labs()):
        hidden, leaks = solution_lines(lab), []
        for name in pages:
            with open(os.path.join(DOCS_VIEWER, name)) as f:
                page = hide_solutions(f.read(), lab, handout_text)
            files = json.loads(RECORDING_ELEMENT.search(page).group(2))["files"]
            shown = {line.strip() for lines in files.values() for line in lines}
            leaks += [f"{name}: {line}" for line in sorted(shown & hidden)[:2]]
        yield not leaks, [f"lab {lab}'s handout of docs/viewer/ shows none of its solution"] + leaks


def template_checks():
    """Each page is its template with a recording in it: a change to tools/viewer_template.html
    or viewer_index.html reaches docs/viewer/ only through make viewer (or --rewrite)."""
    data = re.compile(r'(<script type="application/json" id="\w+">).*?(</script>)', re.S)
    pages = [page_name(dict(strategy=s, kind=k)) for s, k in RECORDINGS] + ["index.html"]
    stale = []
    for name in pages:
        template = "viewer_index.html" if name == "index.html" else "viewer_template.html"
        with open(os.path.join(ROOT, "tools", template)) as f:
            expected = data.sub(r"\1\2", f.read())
        with open(os.path.join(DOCS_VIEWER, name)) as f:
            shown = data.sub(r"\1\2", f.read())
        title = re.search(r"<title>(.*?)</title>", shown).group(1)
        if shown != expected.replace("{{TITLE}}", title):
            stale.append(name)
    yield not stale, [
        "docs/viewer/ is written from the templates in tools/"
        + (f": not {', '.join(stale)} (run python3 tools/viewer.py --rewrite)" if stale else "")
    ]
