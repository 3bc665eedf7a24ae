"""The scenarios that check a lab's whole contract (tests/kernel/scenarios_labs.c): each fails
as soon as the kernel sees what is wrong, with a message in the lab's terms."""
import re

from ..actions import inject_nmis, lazy
from ..gdbstub import Gdb
from ..judge import wait_for
from ..kernel_image import instructions, symbol
from ..scenario import Scenario
from .patterns import OVERWRITE


def one_nmi_after_each(*lines):
    """Runner action: one NMI from outside after each line in turn appears in the log; none more
    once the scenario has ended (it fails at the first NMI that goes wrong)."""

    def action(run):
        for line in lines:
            wait_for(run.log, rf"{line}|\n(not )?ok 1 - ", run.deadline)
            if re.search(r"\n(not )?ok 1 - ", run.log()):
                return
            inject_nmis(line, count=1)(run)

    return action


IDT_GATES = Scenario(
    "idt-gates",
    "test=idt-gates",
    "bios",
    must=[r"# idt-gates: 256 gates as each vector needs; int N from user mode is a #GP"],
)
EXCEPTION_TABLE = Scenario(
    "exception-table",
    "test=exception-table",
    "bios",
    must=[r"# exception-table: \d+ entries, each to its own fixup"],
)
# The outermost NMI's own frame overwritten in its own pass: only its check of its own copy
# (k == depth) sees it; a check that stops below its depth returns through the frame, to a
# function of the scenario that says so at once.
NAIVE_OWN_COPY = Scenario(
    "naive-own-copy",
    "test=naive-own-copy nmi=naive",
    "bios",
    expect="panic",
    must=[OVERWRITE],
)
NMI_BELOW_ENTRY = Scenario(
    "nmi-below-entry",
    "test=nmi-below-entry",
    "bios",
    action=one_nmi_after_each(
        r"# below-entry: spinning below the NMI entry", r"# below-entry: spinning above"
    ),
    hint="rule (a) compares RIP - repeat_nmi unsigned: code below the entry is not in the window",
)


def repeat_window_end_episode():
    """One NMI on end_repeat_nmi, reached by stepping through the whole repeat window from a final
    iretq whose frame points at repeat_nmi."""
    window, repeat = instructions("repeat_nmi", "end_repeat_nmi"), symbol("repeat_nmi")
    asks_for_repeat = lambda gdb: gdb.read64(gdb.register(Gdb.RSP)) == repeat
    return [(symbol("nmi_exit_iretq"), asks_for_repeat, len(window) + 1, None, "at end_repeat_nmi")]


NMI_REPEAT_WINDOW_END = Scenario(
    "nmi-repeat-window-end",
    "test=nmi-repeat-window-end",
    "bios",
    action=lazy(repeat_window_end_episode),
    must=[r"# repeat window end: an NMI at end_repeat_nmi was taken by rule \(b\)"],
    hint="rule (a)'s window is [repeat_nmi, end_repeat_nmi): end_repeat_nmi is not in it",
)
WATCHDOG_TWICE = Scenario(
    "watchdog-twice",
    "test=watchdog-twice",
    "bios",
    must=[
        r"NMI source: PIT IRQ 0 through the 8259 PIC",
        r"hard LOCKUP on CPU 0[\s\S]*hard LOCKUP on CPU 0",
        r"# watchdog-twice: 2 reports for 2 lockups",
    ],
)
KPROBE_TWO = Scenario(
    "kprobe-two",
    "test=kprobe-two",
    "bios",
    must=[r"# kprobe-two: two probes, each hit ran"],
    hint="a hit runs the probe whose address is the int3's (frame->rip - 1), counts it, calls its "
    "pre-handler and resumes at its trampoline",
)

SCENARIOS = [
    IDT_GATES,
    EXCEPTION_TABLE,
    NAIVE_OWN_COPY,
    NMI_BELOW_ENTRY,
    NMI_REPEAT_WINDOW_END,
    WATCHDOG_TWICE,
    KPROBE_TWO,
]
