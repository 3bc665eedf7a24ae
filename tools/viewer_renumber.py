"""After `make viewer` has recorded the pages again, the step numbers the docs send readers to
(`viewer/PAGE.html#step=N`) may point at other moments: each one is moved to the step where the
new recording has the same event (the same event id, the same occurrence of it) that the page in
git's HEAD had at step N. Prints each change; a step whose event is gone is reported, not moved.

    python3 tools/viewer_renumber.py        (from the tree's root; edits README.md and docs/)"""
import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from viewer_page import RECORDING_ELEMENT  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = re.compile(r"(viewer/([\w-]+\.html)#step=)(\d+)")


def event_keys(steps):
    """For each step (1-based), the (event id, occurrence) of its first event, or None."""
    seen, keys = {}, [None]
    for step in steps:
        if step["events"]:
            event = step["events"][0][0]
            seen[event] = seen.get(event, 0) + 1
            keys.append((event, seen[event]))
        else:
            keys.append(None)
    return keys


def recording(text):
    return json.loads(RECORDING_ELEMENT.search(text).group(2))["steps"]


def main():
    old, new = {}, {}
    for path in glob.glob(os.path.join(ROOT, "docs", "viewer", "*.html")):
        page = os.path.basename(path)
        if page == "index.html":
            continue
        committed = subprocess.run(["git", "show", f"HEAD:docs/viewer/{page}"], cwd=ROOT,
                                   capture_output=True, text=True)
        if committed.returncode:
            continue
        old[page] = event_keys(recording(committed.stdout))
        with open(path) as f:
            keys = event_keys(recording(f.read()))
        new[page] = {key: step for step, key in enumerate(keys) if key}
    problems = 0
    docs = [os.path.join(ROOT, "README.md")] + glob.glob(os.path.join(ROOT, "docs", "**", "*.md"),
                                                          recursive=True)
    for doc in docs:
        with open(doc) as f:
            text = f.read()

        def moved(match):
            nonlocal problems
            page, step = match.group(2), int(match.group(3))
            if page not in old or step >= len(old[page]) or not old[page][step]:
                return match.group(0)
            target = new[page].get(old[page][step])
            if target is None:
                print(f"{os.path.relpath(doc, ROOT)}: {page} step {step}: its event is gone")
                problems += 1
                return match.group(0)
            if target != step:
                print(f"{os.path.relpath(doc, ROOT)}: {page} step {step} -> {target}")
            return f"{match.group(1)}{target}"

        changed = REFERENCE.sub(moved, text)
        if changed != text:
            with open(doc, "w") as f:
                f.write(changed)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
