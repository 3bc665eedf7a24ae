#!/usr/bin/env python3
"""make viewer: records one nested NMI per strategy and exception (viewer_record.RECORDINGS) from
real QEMU runs, and writes docs/viewer/: one self-contained page per recording and index.html,
two side by side (viewer_page.py). make viewer is the only thing that changes docs/viewer/;
make test checks that those pages still show what the kernel does (tests/nmilab_test/viewer.py).

    python3 tools/viewer.py                 every recording, into docs/viewer/
    python3 tools/viewer.py --out DIR       somewhere else
    python3 tools/viewer.py --rewrite       the pages again from the recordings they hold, without
                                            booting (after a change to the templates only)
"""
import argparse
import concurrent.futures
import os
import sys

from viewer_page import page_name, read_recording, write_index, write_page
from viewer_record import RECORDINGS, ROOT, recording_scenario

from nmilab_test.paths import ISOS
from nmilab_test.runner import run_scenario

DOCS_VIEWER = os.path.join(ROOT, "docs", "viewer")


def record(strategy, kind):
    """One boot, recorded: the recording (viewer_record.Recorder.result)."""
    scenario, recorder = recording_scenario(strategy, kind)
    ok, reason, _, log = run_scenario(scenario)
    if not ok:
        raise SystemExit(f"viewer: {scenario.name} failed: {reason}")
    return recorder.result(log)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DOCS_VIEWER, help="where the pages go")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rewrite", action="store_true", help="no recording: the pages' own data")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(ISOS, exist_ok=True)
    if args.rewrite:
        recordings = [
            read_recording(os.path.join(args.out, page_name(dict(strategy=s, kind=k))))
            for s, k in RECORDINGS
        ]
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            recordings = list(pool.map(lambda pair: record(*pair), RECORDINGS))
    for recording in recordings:
        path = write_page(recording, args.out)
        size = os.path.getsize(path)
        print(f"wrote {os.path.relpath(path, ROOT)}: {len(recording['steps'])} steps, "
              f"{size // 1024} KiB")
    print(f"wrote {os.path.relpath(write_index(recordings, args.out), ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
