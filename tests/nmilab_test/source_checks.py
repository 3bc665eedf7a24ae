"""The checks of the tree itself, run by make test and make check like the unit tests: the
checkers' own tests (tests/test_checkers.py), the docs (tests/check_docs.py: every name the docs
use exists) and the kernel's source (tests/check_source.py: line length, chained ternaries,
includes of tests/, the line budget; tests/check_speculation.py: the lfence after each swapgs
decision and the masked system call number, in the built kernel's machine code)."""
import os
import subprocess
import sys

from nmilab_test.paths import ROOT

CHECKS = [
    ("checkers' own tests", "test_checkers.py"),
    ("docs", "check_docs.py"),
    ("source", "check_source.py"),
    ("speculation fences", "check_speculation.py"),
]


def run_source_checks():
    """Each check as (name, passed, the lines it printed)."""
    results = []
    for name, script in CHECKS:
        result = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests", script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        lines = (result.stdout + result.stderr).strip().splitlines()
        results.append((name, result.returncode == 0, lines))
    return results
