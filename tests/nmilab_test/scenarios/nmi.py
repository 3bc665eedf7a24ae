"""The NMI scenarios, each under each strategy (nmi=nested, latch, naive, ret; naive-raw once), with
what that strategy must do; and the episodes of the scenarios that place an NMI on every
instruction of a window."""
from ..actions import PAGE_FAULT_STUBS, inject_nmis, lazy, nmi_at
from ..gdbstub import Gdb
from ..kernel_image import disassemble_one, instructions, symbol
from ..scenario import Scenario
from .patterns import OVERWRITE, REGISTERS

# What a hanging window scenario says about the rule it needed (a lab 4 grade's first line).
WINDOW_RULES = {
    "a": "an NMI on repeat_nmi, with NMI executing 1, is in the repeat window: nothing to do",
    "c": "an NMI on the final iretq, NMI executing 0, is nested: DF set and RSP in the NMI stack",
}

# strategy -> the scenario's name (its test=NAME) -> the scenario, for the labs and make check.
BY_STRATEGY = {}


def under(strategy, name):
    """The scenario test=NAME booted with nmi=STRATEGY (KeyError if there is none)."""
    return BY_STRATEGY[strategy][name]


def nmi_scenarios():
    """Each NMI scenario under each strategy, with what that strategy must do."""
    out = []
    for strategy in ("nested", "latch", "naive", "ret"):

        def add(
            name,
            expect="pass",
            must=(),
            must_not=(),
            action=None,
            timeout=None,
            hint=None,
            finish_within=None,
        ):
            scenario = Scenario(
                f"{name} nmi={strategy}",
                f"test={name} nmi={strategy}",
                "bios",
                expect=expect,
                must=[r"nmi: strategy " + strategy, *must],
                must_not=must_not,
                action=action,
                timeout=timeout,
                hint=hint,
                finish_within=finish_within,
            )
            BY_STRATEGY.setdefault(strategy, {})[name] = scenario
            out.append(scenario)

        for name in ("nmi-pf-nested", "nmi-int3-nested"):
            if strategy == "naive":  # the broken entry: the check must catch the overwrite
                # and the backtrace must name where the nested NMI landed and stop where the
                # overwritten frame chain loops (docs/nmi.md, "nmi=naive")
                landed = "exception_fixups" if name == "nmi-pf-nested" else "provoked_int3"
                add(
                    name,
                    expect="panic",
                    # at once when the check works; a broken one hangs like naive-raw
                    finish_within=(rf"# scenario {name}", 4),
                    hint="nmi=naive must report the overwrite: the frame at the IST stack top "
                    "against each running NMI's copy",
                    must=[
                        OVERWRITE,
                        rf"#3\s+[0-9a-f]{{16}} {landed}\+0x[0-9a-f]+ \(interrupted here\)",
                        r"the chain loops, the stack was overwritten\)\nsystem halted",
                    ],
                )
            elif strategy == "ret":  # nothing nests: the pending NMI comes after the iretq
                add(
                    name,
                    must=[r"entries 2 nested 0 passes 2 extra passes 0"],
                    hint="nmi=ret: the exception must return into the NMI handler without iretq",
                )
            else:
                add(name, must=[r"entries 2 nested 1 passes 2 extra passes 1"])
        if strategy in ("nested", "ret"):  # a fixed-up #GP in the handler: as the page fault
            nested = "1" if strategy == "nested" else "0"
            add(
                "nmi-gp-nested",
                must=[rf"entries 2 nested {nested} passes 2 extra passes {nested}"],
                hint="nmi=ret: a #GP the kernel fixes up must return into the NMI handler without "
                "iretq too"
                if strategy == "ret"
                else None,
            )
        for name, action in (
            ("nmi-repeat-window", nmi_at("nmi_exit_iretq", step=True)),
            ("nmi-iret-window", nmi_at("nmi_exit_iretq")),
        ):
            if strategy == "nested":
                rule = "a" if name == "nmi-repeat-window" else "c"
                add(name, action=action, timeout=15, hint=f"rule ({rule}): {WINDOW_RULES[rule]}")
            else:
                add(
                    name,
                    must=[
                        rf"ok 1 - {name} # SKIP the repeat and exit windows exist only in "
                        rf"nmi=nested"
                    ],
                )
        if strategy == "nested":  # the lab 4 grade: every instruction of both windows
            add(
                "nmi-repeat-window-all",
                timeout=15,  # a few seconds; a lost NMI leaves the runner waiting for the next
                action=lazy(repeat_window_episodes),
                hint="rule (a) must come first: in the repeat window 'NMI executing' is already 1 "
                "and the iret frame "
                "half copied",
                must=[
                    r"(# repeat window: an NMI at repeat_nmi\+0x[0-9a-f]+ was taken by rule \(a\) "
                    r"the repeat window\n"
                    r"[\s\S]*){6}"
                ],
            )
            add(
                "nmi-exit-window-all",
                timeout=15,  # a few seconds; a lost NMI leaves the runner waiting for the next
                action=lazy(exit_window_episodes),
                hint="rule (c) must recognise an NMI on the final iretq by DF (RFLAGS bit 10, in "
                "its second byte) "
                "and an RSP in the NMI stack",
                must=[
                    r"(# exit window: an NMI at nmi_exit_iretq-0x[0-9a-f]+ was taken by rule \(b\) "
                    r"NMI executing\n"
                    r"[\s\S]*){4}(# exit window: an NMI at nmi_exit_iretq was taken by rule "
                    r"\(c\)[^\n]*\n"
                    r"[\s\S]*){2}"
                ],
            )
            add(
                "nmi-first-on-nmi-stack",
                timeout=15,  # a few seconds; a lost NMI leaves the runner waiting for the next
                action=lazy(nmi_stack_episodes),
                hint="rule (c) must test DF as well as RSP: code may run with RSP in the NMI stack "
                "(CVE-2015-3291), "
                "and a first NMI there must not be lost",
                must=[r"(handled as a first NMI\n[\s\S]*){2}"],
            )
        add("nmi-cr2", action=nmi_at(PAGE_FAULT_STUBS))
        if strategy == "nested":  # make bench's two (tests/bench.py), kept booting and passing
            add("nmi-bench", must=[r"# bench: a fixed-up page fault and an int3, no NMI running"])
            add(
                "nmi-bench-rates",
                must=[
                    rf"# bench-rate: nmi=nested {what} round \d+: {count} in \d+ TSC ticks: "
                    rf"[1-9]\d* per second"
                    for what, count in (("page faults", 50000), ("NMIs", 20000))
                ],
            )
        if (
            strategy == "naive"
        ):  # naive-raw is the hardware alone: no report, a silent hang (watched for 3 s)
            raw = Scenario(
                "nmi-pf-nested nmi=naive-raw",
                "test=nmi-pf-nested nmi=naive-raw",
                "bios",
                expect="hang",
                done=r"# scenario nmi-pf-nested",
                settle=3,
                must=[r"nmi: strategy naive-raw"],
                must_not=[r"NMI frame overwritten", r"PANIC"],
                hint="nmi=naive-raw has no overwrite check: it must hang silently",
            )
            BY_STRATEGY.setdefault("naive-raw", {})["nmi-pf-nested"] = raw
            out.append(raw)
        if (
            strategy == "naive"
        ):  # a nested NMI after the depth is back at 0: reported, not a silent hang
            add(
                "nmi-naive-late",
                expect="panic",
                action=nmi_at("nmi_entry_naive.returned"),
                must=[OVERWRITE],
            )
        if strategy == "naive":  # the stories: the overwrite is caught, and the dump is cut short
            add(
                "watchdog-dump",
                expect="panic",
                must=[r"hard LOCKUP on CPU 0", OVERWRITE],
                must_not=[r"show_state: \d+ tasks dumped"],
            )
            for name in ("vmalloc-nmi", "module-nmi", "kprobe-nmi"):
                add(name, expect="panic", must=[OVERWRITE])
        else:
            add(
                "watchdog-dump",
                must=[
                    r"watchdog: hard-lockup detector on, threshold 1 s, NMI source: PIT IRQ 0 "
                    r"through the 8259 PIC",
                    r"hard LOCKUP on CPU 0: the timer tick has not advanced for 1 s",
                    REGISTERS,
                    r"backtrace:\n\s+#0\s+[0-9a-f]{16} lock_up_this_cpu\+0x",
                    r"task 5 broken-frames \(blocked\)",
                    r"\(frame pointer 0000100000000000 is not readable: the walk stops "
                    r"here\)\nshow_state: 6 tasks dumped",
                    r"watchdog: [1-9]\d* NMIs arrived nested during the dump"
                    if strategy != "ret"
                    else r"watchdog: 0 NMIs arrived nested during the dump",
                ],
            )
            add(
                "vmalloc-nmi",
                must=[r"trace ring at 0xffffff0000000000: 2 entries, 7ace0001 7ace0002"],
            )
            add("module-nmi", must=[r"module code at 0xffffff0000000000 ran 2 times"])
            add(
                "kprobe-nmi",
                hint="a hit counts, calls the pre-handler and resumes at the probe's trampoline",
                must=[
                    r"kprobe: there is no kernel function named 'no_such_function'",
                    r"kprobe on nmi_probe_target at [0-9a-f]+: 2 hits in NMI context",
                ],
            )
        add("nmi-external", action=inject_nmis(r"# external: waiting", count=5))
        if strategy != "naive":
            add(
                "nmi-storm",
                action=inject_nmis(r"# storm: start", until=r"# storm: end", gap=0.01),
                timeout=120,
            )
    return out


def repeat_window_episodes():
    """An NMI on each instruction of the repeat window, reached by stepping from a final iretq
    whose frame points at repeat_nmi (a nested NMI has asked for a repeat)."""
    window, repeat, exit_iretq = (
        instructions("repeat_nmi", "end_repeat_nmi"),
        symbol("repeat_nmi"),
        symbol("nmi_exit_iretq"),
    )
    asks_for_repeat = lambda gdb: gdb.read64(gdb.register(Gdb.RSP)) == repeat
    return [
        (
            exit_iretq,
            asks_for_repeat,
            k + 1,
            None,
            f"at repeat_nmi+{address - repeat:#x} (the repeat window)",
        )
        for k, address in enumerate(window)
    ]


def exit_window_episodes():
    """An NMI on each instruction from the exit path's std to the final iretq, in the first pass
    of an episode (the one whose fault unblocked NMIs), with PF set and clear."""
    exit_iretq = symbol("nmi_exit_iretq")
    code = instructions("end_repeat_nmi", "nmi_exit_iretq") + [exit_iretq]
    window = code[next(i for i in range(len(code)) if disassemble_one(code[i]) == "std") :]
    passes = symbol("provoke_passes")
    episodes = []
    for address in window:
        for pf in (1, 0):
            number = len(episodes)
            first_pass = lambda gdb, n=number: gdb.read64(passes) == 2 * n + 1
            offset = f"-{exit_iretq - address:#x}" if address != exit_iretq else ""
            what = f"at nmi_exit_iretq{offset} (the exit window)"
            episodes.append((address, first_pass, 0, pf, what))
    return episodes


def nmi_stack_episodes():
    """An NMI while code runs with RSP in the NMI stack and DF clear: PF set, then clear."""
    spin, claimed = symbol("nmi_stack_spin"), symbol("external_claimed")
    return [
        (
            spin,
            lambda gdb, n=n: gdb.read64(claimed) == n,
            0,
            pf,
            "at nmi_stack_spin (RSP in the NMI stack, DF clear: a first NMI)",
        )
        for n, pf in enumerate((1, 0))
    ]


SCENARIOS = nmi_scenarios()


def breakpoint_scenarios():
    """nmi-breakpoint: an instruction breakpoint (DR0) on a function the NMI handler calls, with
    a second NMI pending. iretq sets RF: one hit per call, and the #DB's iretq lets the NMI nest
    (naive: the overwrite). popfq; ret cannot set RF: under nmi=ret it fires again on return."""
    out = []
    for strategy in ("nested", "latch", "naive", "ret"):
        must = [r"nmi: strategy " + strategy]
        if strategy == "naive":
            must.append(OVERWRITE)
        elif strategy == "ret":
            must.append(
                r"# breakpoint under nmi=ret: 2 calls, 4 hits, at most 4 on one call; 0 nested "
                r"NMIs; it fired again on its own return \(no RF\): disarmed"
            )
        else:
            must.append(
                rf"# breakpoint under nmi={strategy}: 2 calls, 2 hits, at most 1 on one call; "
                r"1 nested NMIs\n"
            )
        out.append(
            Scenario(
                f"nmi-breakpoint nmi={strategy}",
                f"test=nmi-breakpoint nmi={strategy}",
                "bios",
                expect="panic" if strategy == "naive" else "pass",
                must=must,
                hint="nmi=ret: the #DB comes on its own IST stack; it must return into the NMI "
                "handler without iretq too"
                if strategy == "ret"
                else None,
            )
        )
    return out


SCENARIOS += breakpoint_scenarios()
