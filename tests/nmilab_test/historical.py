"""The historical checks of make test: NMI_BREAK switches that put back what Linux had before
2015. Under each, the scenario that shows the bug must fail, with the bug's own symptom in its
log. With them, nmi=ret's exit testing CPU 0's NMI stack on every CPU (ret-this-cpu), which only a
second CPU shows (make verify runs one)."""
import glob
import os
import re
import subprocess
import sys

from .judge import read
from .tree import tree_with_break

HISTORICAL = [
    (
        "df-test",
        "user-rsp-in-nmi-stack",
        r"[1-9] NMIs on the SYSCALL path taken for nested \(rule \(c\) the exit "
        r"window\) and lost\n# the last one lost: at syscall_entry\+0x[0-9a-f]+, RSP "
        r"ffffffff8[0-9a-f]+",
    ),
    (
        "user-stack-switch",
        "user-nmi-fault-return",
        r"PANIC: unhandled segment not present \(#NP\), error code 0x20\n"
        r"(.*\n){7}  \(RSP is on the NMI IST stack\)\n[\s\S]*nmi_exit_iretq\+0x0",
    ),
    (
        "ret-this-cpu",
        "smp-nested-nmi nmi=ret",
        r"PANIC: NMI frame overwritten by nested NMI \(nmi=ret\) \(on CPU [1-3]\)",
    ),
]


def historical_checks():
    """Builds each historical NMI_BREAK kernel in a copy of this tree and runs its scenario there.
    Yields (ok, lines)."""
    for name, scenario, symptom in HISTORICAL:
        with tree_with_break(name) as (tree, failure):
            if failure:
                yield False, [failure]
                continue
            result = subprocess.run(
                [sys.executable, os.path.join(tree, "tests", "run.py"), scenario],
                capture_output=True,
                text=True,
            )
            log_name = re.sub(r"[ =]", "_", scenario)  # as the runner names the log
            logs = glob.glob(os.path.join(tree, "build", "test-logs", f"{log_name}*.log"))
            found = re.search(symptom, read(logs[0]) if logs else "")
            ok = result.returncode != 0 and found is not None
            shown = (
                [
                    line.strip()
                    for line in found.group(0).splitlines()
                    if re.search("PANIC|RSP is on|#0|lost", line)
                ]
                if found
                else [result.stdout.strip()[-300:]]
            )
            yield ok, [
                f"NMI_BREAK={name}: {scenario} "
                + (
                    "fails with the historical bug, as it must"
                    if ok
                    else "does NOT fail as the historical kernel did"
                ),
                *shown,
            ]
