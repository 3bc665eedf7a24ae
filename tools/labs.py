#!/usr/bin/env python3
"""The labs: handouts and grading.

Solution code in the source is marked for a lab (tests/nmilab_test/tree.py says how).

    tools/labs.py handout N [DIR]   writes a student tree for lab N (default ../nmilab-lab-N, beside
                              this tree, never inside it): lab N's solutions and every later lab's
                              replaced by TODO comments and stubs that still compile, earlier labs
                              left solved, no build products and no known wrong solutions of lab N
                              or later (their diffs would show the answer)
    tools/labs.py grade N     runs lab N's scenarios on this tree's kernel; prints "score: X/Y" and
                              writes build/grade-lab-N.json and build/results-lab-N.json (the
                              same in Gradescope's results.json format)
    tools/labs.py list        the labs

The graders are tested like the kernel: tests/labs/lab-N/*.patch are known wrong solutions of
lab N (plausible ones that students write), and make test checks that each fails lab N's grade.
"""
import os
import sys

# The harness is the package tests/nmilab_test.
sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
)
from nmilab_test import labs  # noqa: E402
from nmilab_test.paths import BUILD, ISOS  # noqa: E402


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("handout", "grade", "list"):
        raise SystemExit("usage: tools/labs.py handout N [DIR] | grade N | list")
    if sys.argv[1] == "list":
        for number, (title, scenarios) in labs.LABS.items():
            print(f"lab {number}: {title} ({len(scenarios)} scenarios; docs/labs/lab-{number}.md)")
        return
    if len(sys.argv) < 3 or not sys.argv[2].isdigit() or int(sys.argv[2]) not in labs.LABS:
        raise SystemExit(
            f"labs: LAB must be one of {', '.join(map(str, labs.LABS))} (make {sys.argv[1]} LAB=N)"
        )
    lab = int(sys.argv[2])
    if sys.argv[1] == "handout":
        destination, files = labs.handout(
            lab, sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
        )
        print(f"lab {lab} handout in {destination}; the TODOs are in: {', '.join(files)}")
        print(f"  cd {destination} && make grade LAB={lab}")
    else:
        os.makedirs(ISOS, exist_ok=True)
        score, total, results = labs.grade(lab, first_failure="--first-failure" in sys.argv)
        if "--first-failure" not in sys.argv:  # a partial grade is no result to collect
            labs.write_results(lab, results, BUILD)
        print(f"lab {lab} ({labs.LABS[lab][0]}): score {score}/{total}")
        sys.exit(0 if score == total else 1)


if __name__ == "__main__":
    main()
