"""The scenarios that check a lab's whole contract (tests/kernel/scenarios_labs.c; lab 8's in
scenarios_ret_exit.c): each fails as soon as the kernel sees what is wrong, with a message in the
lab's terms."""
import re

from ..actions import inject_nmis, lazy, run_until
from ..gdbstub import Gdb
from ..judge import wait_for
from ..kernel_image import instructions, symbol, symbol_name
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

RET_EXIT_STEPS_MAX = 200  # instructions on an exception's way back, at most (EPISODES_MAX)


def ret_exit_episodes(run):
    """Runner action for nmi-ret-exit-all: in episode k, stop the CPU at trap_return_ret_strategy
    while the kernel's fault of episode k returns into its NMI handler, step k instructions, and
    inject an NMI there (writing where into ret_exit_placed_at); once the k steps have brought the
    CPU back to ret_exit_fixup, write k into ret_exit_path_length instead, and let it go."""
    wait_for(run.log, r"# debugger:|\n(not )?ok 1 - ", run.deadline)
    if re.search(r"\n(not )?ok 1 - ", run.log()):
        return  # the first episode failed: nothing to place
    gdb = Gdb(run.gdb_path, run.deadline)
    stop, cue = symbol("trap_return_ret_strategy"), symbol("ret_exit_cue")
    back = symbol("ret_exit_fixup")
    write64 = lambda name, value: gdb.command(
        f"M{symbol(name):x},8:{value.to_bytes(8, 'little').hex()}"
    )
    write64("scenario_debugger_go", 1)
    for k in range(RET_EXIT_STEPS_MAX + 1):
        # (other exceptions under nmi=ret leave that way too: the cue says which is episode k's)
        run_until(gdb, run, stop, lambda gdb, k=k: gdb.read64(cue) == k + 1)
        for _ in range(k):
            gdb.step()
        rip = gdb.register(Gdb.RIP)
        if rip == back:
            write64("ret_exit_path_length", k)
            break
        if k == RET_EXIT_STEPS_MAX:
            raise RuntimeError(
                f"the way back from trap_return_ret_strategy took more than {k} instructions "
                f"(now at {symbol_name(rip)})"
            )
        write64("ret_exit_placed_at", rip)
        run.note = f"the last NMI was injected at {symbol_name(rip)} (the way back, step {k})"
        reply = run.qmp.command("inject-nmi")
        if "error" in reply:
            raise RuntimeError(f"inject-nmi failed: {reply}")
    gdb.command("D", wait_reply=False)


NMI_RET_EXIT_ALL = Scenario(
    "nmi-ret-exit-all",
    "test=nmi-ret-exit-all nmi=ret",
    "bios",
    action=ret_exit_episodes,
    timeout=60,
    must=[
        r"nmi: strategy ret",
        r"# nmi-ret-exit-all: an NMI on each of the [1-9]\d+ instructions from "
        r"trap_return_ret_strategy back "
        r"into the NMI handler stayed pending until its iretq; [1-9]\d+ faults gave back every "
        r"register, RFLAGS and RSP",
    ],
    hint="nmi=ret: an exception that interrupted an NMI handler returns with pop rsp; pop rax; "
    "popfq; ret (no iretq), RIP, RFLAGS and RAX written just below the interrupted RSP",
)

SCENARIOS = [
    IDT_GATES,
    EXCEPTION_TABLE,
    NAIVE_OWN_COPY,
    NMI_BELOW_ENTRY,
    NMI_REPEAT_WINDOW_END,
    WATCHDOG_TWICE,
    KPROBE_TWO,
    NMI_RET_EXIT_ALL,
]
