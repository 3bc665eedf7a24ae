"""make viewer, the recording: one nested NMI of a real QEMU run, instruction by instruction.

The kernel runs its own scenario (test=nmi-pf-nested or nmi-int3-nested): NMI 1's handler sends
this CPU a second NMI, which stays pending while NMIs are blocked, then takes a page fault (or
hits an int3); the exception's iretq lets NMI 2 in. The recorder stops the CPU at the NMI entry
through QEMU's gdb stub and single-steps from there to the return into the interrupted code (or,
under nmi=naive, to the panic). At every step it keeps RIP, the registers that changed and the
stack words near the NMI stack's top, and names what happened (events()).

QEMU's gdb stub holds interrupts back while it single-steps (so a step never lands in a timer
handler); the recorder asks it not to ("Qqemu.sstep=1"), or the pending NMI would only come in
once the CPU runs freely. Interrupts are off on the whole NMI path, so only that NMI can come.
"""
import copy
import os
import re
import subprocess
import sys

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TREE, "tests"))
from nmilab_test.gdbstub import GPRS, Gdb, registers  # noqa: E402
from nmilab_test.kernel_image import function_symbols, name_in, symbol  # noqa: E402
from nmilab_test.paths import KERNEL, ROOT  # noqa: E402

# nmi=NAME: its entry point, and the layout of the stack its NMIs run on (the slots' names:
# viewer_page.slot_labels). A new strategy is one more line here.
STRATEGIES = {
    "nested": ("nmi_entry_nested", "nmi_stack"),
    "naive": ("nmi_entry_naive", "trap_frame"),
    "latch": ("nmi_entry_latch", "trap_frame"),
}
# What goes wrong inside NMI 1's handler: the kernel's scenario, and the exception it takes.
KINDS = {"pf": "nmi-pf-nested", "int3": "nmi-int3-nested"}
RECORDINGS = [(strategy, kind) for strategy in STRATEGIES for kind in KINDS]
EXCEPTIONS = {3: "an int3 (#BP, vector 3)", 14: "a page fault (#PF, vector 14)"}

WINDOW_WORDS = 96  # stack words kept at each step, down from the NMI's stack top
STEP_LIMIT = 4000
STEP_OVER = ("printk",)  # run in one go: printing the report is not the story
STOP_AT = "panic"  # nmi=naive: the recording ends where the report becomes a panic
SENDS_NMI = "apic_send_self_nmi"  # its return is the moment the CPU has the NMI it sent itself
SSTEP_WITH_INTERRUPTS = 1  # QEMU's sstep flags: stepping on, interrupts and timers not held back


def c_compiler(kernel):
    """The C compiler that built the kernel, as its debug information names it ("GNU C11
    12.2.0"): the offsets in the C functions are its."""
    out = subprocess.run(
        ["objdump", "--dwarf=info", kernel], capture_output=True, text=True
    ).stdout
    for producer in re.findall(r"DW_AT_producer\s*:(?:.*\):)? (.*)", out):
        if not producer.startswith("NASM"):
            return producer.split(" -")[0]
    return "?"


def disassembly(kernel):
    """address -> (mnemonic, the instruction as objdump prints it) for the whole kernel."""
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", "-M", "intel", kernel],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.finditer(r"^\s*([0-9a-f]+):\s+((\S+).*?)\s*$", out, re.M)
    return {int(m.group(1), 16): (m.group(3), " ".join(m.group(2).split())) for m in found}


class Recorder:
    """The runner action (tests/nmilab_test/runner.py calls it with a RunContext) that records
    one nested NMI under `strategy`; afterwards `steps` holds the raw steps."""

    def __init__(self, strategy, kind):
        self.strategy, self.kind = strategy, kind
        self.steps, self.top = [], None

    def __call__(self, run):
        self.entry = symbol(STRATEGIES[self.strategy][0])
        self.code = disassembly(KERNEL)
        self.functions = function_symbols(KERNEL)
        gdb = Gdb(run.gdb_path, run.deadline)  # connecting stops the CPU, long before the kernel
        entries = {self.entry}
        if self.code.get(self.entry - 3, ("",))[0] == "clac":  # the gate's SMAP variant
            entries.add(self.entry - 3)
        for address in entries:
            gdb.command(f"Z0,{address:x},1")
        if not gdb.command("c").startswith("T05"):
            raise RuntimeError("the CPU did not stop at the NMI entry")
        for address in entries:
            gdb.command(f"z0,{address:x},1")
        if gdb.command(f"Qqemu.sstep={SSTEP_WITH_INTERRUPTS:x}") != "OK":
            raise RuntimeError("the gdb stub refused to single-step with interrupts")
        self.entries = entries
        self.record(gdb)
        gdb.command("D", wait_reply=False)  # the kernel runs on and finishes its scenario

    def record(self, gdb):
        regs = registers(gdb)
        self.top = regs["rsp"] + 5 * 8  # above the hardware frame: the IST top, or the aligned RSP
        interrupted = gdb_words(gdb, regs["rsp"], 5)
        back = (interrupted[0], interrupted[3])  # the interrupted RIP and RSP
        for _ in range(STEP_LIMIT):
            words = gdb_words(gdb, self.top - 8 * WINDOW_WORDS, WINDOW_WORDS)[::-1]  # top first
            # With interrupts let in, QEMU's stub sometimes stops once more where it was, having
            # run nothing (when an interrupt is requested): not an instruction, not a step.
            if not self.steps or self.steps[-1] != dict(regs=regs, words=words):
                self.steps.append(dict(regs=regs, words=words))
            if (regs["rip"], regs["rsp"]) == back or self.name(regs["rip"]) == f"{STOP_AT}+0x0":
                return
            text = self.code.get(regs["rip"], ("?", "?"))[1]
            callee = re.search(r"call\s+[0-9a-f]+ <([\w.]+)>", text)
            if callee and callee.group(1) in STEP_OVER:
                self.run_to(gdb, regs["rip"] + self.length(regs["rip"]))
            elif not gdb.command("s").startswith("T05"):
                raise RuntimeError(f"single step at {self.name(regs['rip'])} failed")
            regs = registers(gdb)
        raise RuntimeError(f"the NMI path did not end within {STEP_LIMIT} instructions")

    def run_to(self, gdb, address):
        gdb.command(f"Z0,{address:x},1")
        gdb.command("c")
        gdb.command(f"z0,{address:x},1")

    def length(self, address):
        return min(a for a in self.code if a > address) - address

    def name(self, address):
        return name_in(self.functions, address) or f"{address:x}"

    def result(self, log):
        """The recording: each step's RIP (as symbol+offset too), instruction, source line,
        changed registers and stack words, the events at it and whether NMIs are blocked or one
        is pending; log (the serial output) gives the overwrite report's line."""
        lines = source_lines(self.steps)
        report = re.search(r"^NMI frame overwritten by nested NMI:.*$", log, re.M)
        steps, before = [], None
        for step, events in zip(self.steps, self.events(lines)):
            rip = step["regs"]["rip"]
            old_words = before["words"] if before else [None] * WINDOW_WORDS
            if report and any(key == "report" for key, _ in events):
                events = [(key, f"{text}: {report.group(0)}") for key, text in events]
            steps.append(
                dict(
                    at=self.name(rip),
                    rip=f"{rip:x}",
                    insn=self.code.get(rip, ("?", "?"))[1],
                    src=lines[rip],
                    regs=changed_registers(before and before["regs"], step["regs"]),
                    words={
                        str(k): f"{w:x}" for k, w in enumerate(step["words"]) if w != old_words[k]
                    },
                    events=[list(e) for e in events],
                    blocked=step["blocked"],
                    pending=step["pending"],
                )
            )
            before = step
        return dict(
            strategy=self.strategy,
            kind=self.kind,
            compiler=c_compiler(KERNEL),
            scenario=KINDS[self.kind],
            layout=STRATEGIES[self.strategy][1],
            top=f"{self.top:x}",
            steps=steps,
        )

    def events(self, lines):
        """What happened at each step, as [(key, text)], keys shared by every strategy where the
        thing is the same (the side-by-side view aligns on them); step["blocked"] and
        step["pending"] are set on the way. lines: source_lines() of the steps."""
        texts = SourceText()
        blocked = pending = False
        arrivals = passes = 0
        dispatch, stubs = symbol("nmi_dispatch"), {symbol(f"trap_stub_{v}"): v for v in EXCEPTIONS}
        repeat = f"{symbol('repeat_nmi'):x}"
        previous = None
        for step in self.steps:
            rip, events = step["regs"]["rip"], []
            name = self.name(rip)
            last = previous and self.code.get(previous["regs"]["rip"], ("?",))[0]
            if last == "iretq":
                if step is self.steps[-1] and self.strategy_returned(step):
                    events.append(("return", "the final iretq: back in the interrupted code"))
                elif blocked:
                    events.append(
                        ("unblock", "iretq: NMIs unblocked"
                         + (" (NMI 2 is pending: it comes in at once)" if pending else ""))
                    )
                blocked = False
            if rip in self.entries and not (previous and previous["regs"]["rip"] in self.entries):
                arrivals += 1
                blocked, pending = True, False
                events.append(self.arrival(arrivals, step, previous))
                if arrivals > 1 and self.overwritten(step, previous):
                    events.append(("answer", "NMI 2's frame is written over NMI 1's: NMI 1's "
                                   "way back is gone"))
            if last == "ret" and self.name(previous["regs"]["rip"]).startswith(SENDS_NMI + "+"):
                pending = blocked
                events.append(("sent", "an NMI sent to this CPU"
                               + (": NMIs are blocked, so it stays pending" if blocked else "")))
            if rip in stubs:
                events.append(("exception", f"{EXCEPTIONS[stubs[rip]]} inside the NMI handler"))
            if rip == dispatch:
                passes += 1
                events.append((f"pass-{passes}", f"handler pass {passes}: nmi_dispatch"))
            if name in LABEL_EVENTS:
                events.append(LABEL_EVENTS[name])
            if name == "repeat_nmi+0x0":
                events.append(
                    ("repeat", "NMI 1's iretq came to repeat_nmi: one more pass")
                    if last == "iretq"
                    else ("setup", "repeat_nmi: the first pass is set up like a repeat")
                )
            was = {f"{w:x}" for w in previous["words"]} if previous else set()
            if repeat not in was and repeat in {f"{w:x}" for w in step["words"]}:
                events.append(("answer", "NMI 1's iret frame now returns to repeat_nmi"))
            text = texts.line(lines[rip])
            for pattern, event in LINE_EVENTS:
                if re.search(pattern, text):
                    events.append(event)
            step["blocked"], step["pending"] = blocked, pending
            previous = step
            yield events

    def arrival(self, number, step, previous):
        if number == 1:
            return ("nmi-1", "NMI 1 arrives: the CPU writes its frame, NMIs are now blocked")
        where = (
            "at the same stack top as NMI 1 (the IST stack)"
            if step["regs"]["rsp"] + 5 * 8 == self.top
            else "below NMI 1's frames, on the stack in use"
        )
        return (f"nmi-{number}", f"NMI {number}, the nested NMI, arrives: its frame goes {where}")

    def overwritten(self, step, previous):
        """Whether the arriving NMI wrote over the frame the first NMI still needs: under a
        layout with no copy of it (trap_frame), the hardware frame at the top."""
        return (
            STRATEGIES[self.strategy][1] == "trap_frame"
            and step["words"][:5] != previous["words"][:5]
        )

    def strategy_returned(self, step):
        return self.name(step["regs"]["rip"]) != f"{STOP_AT}+0x0"


# Places that are events by themselves: (key, text) when RIP gets there.
LABEL_EVENTS = {
    "nested_nmi+0x0": ("rule", 'rule (b): "NMI executing" is set, so this NMI is nested'),
    "nmi_in_repeat_window+0x0": ("rule", "rule (a): landed in the repeat window"),
    "nmi_check_exit_window+0x0": ("rule", "rule (c)? DF is set: the exit window"),
    "naive_overwrite_report+0x0": ("report", "the check finds NMI 1's frame overwritten"),
    "panic+0x0": ("panic", "panic: the machine stops"),
}
# Source lines that are events (C code, where there is no label to stop at).
LINE_EVENTS = [
    (r"latch_state = LATCH_LATCHED", ("answer", "the latch: NMI 2 only notes that it came")),
]


def source_lines(steps):
    """RIP -> "path:line" of the kernel's source (addr2line; the assembly has line numbers too,
    NASM's -g), path relative to the tree."""
    rips = sorted({step["regs"]["rip"] for step in steps})
    out = subprocess.run(
        ["addr2line", "-e", KERNEL] + [f"{r:x}" for r in rips],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return {rip: relative_source(where) for rip, where in zip(rips, out)}


def relative_source(where):
    """addr2line's "path:line (discriminator N)" as "path:line", path relative to the tree;
    "?:0" where it knows no file, line 0 where it knows no line."""
    path, _, line = where.rpartition(":")
    number = line.split()[0] if line.split() and line.split()[0].isdigit() else "0"
    parts = os.path.normpath(path).split(os.sep)
    for i in range(len(parts) - 1, -1, -1):
        candidate = os.path.join(*parts[i:])
        if os.path.exists(os.path.join(ROOT, candidate)):
            return f"{candidate}:{number}"
    return "?:0"


class SourceText:
    """The text of a "path:line", each file read once."""

    def __init__(self):
        self.files = {}

    def line(self, where):
        path, _, number = where.rpartition(":")
        if path not in self.files:
            try:
                with open(os.path.join(ROOT, path)) as f:
                    self.files[path] = f.read().splitlines()
            except OSError:
                self.files[path] = []
        lines = self.files[path]
        return lines[int(number) - 1] if 0 < int(number) <= len(lines) else ""


def recording_scenario(strategy, kind, check=None):
    """The kernel's scenario for `kind` under nmi=strategy, as make test boots it (the same
    expectations), with a Recorder attached: (scenario, recorder). check(log, recorder): what
    the scenario's check then says (None: nothing wrong)."""
    from nmilab_test.scenarios.nmi import under  # here: the catalogue imports this module

    recorder = Recorder(strategy, kind)
    scenario = copy.copy(under(strategy, KINDS[kind]))
    scenario.name = f"viewer {KINDS[kind]} nmi={strategy}"
    scenario.action = recorder
    scenario.check = (lambda log: check(log, recorder)) if check else None
    return scenario, recorder


def gdb_words(gdb, address, count):
    raw = bytes.fromhex(gdb.command(f"m{address:x},{8 * count:x}"))
    return [int.from_bytes(raw[8 * i : 8 * i + 8], "little") for i in range(count)]


def changed_registers(before, after):
    names = GPRS + ["rip", "rflags", "cs", "ss", "cr2"]
    return {n: f"{after[n]:x}" for n in names if before is None or before[n] != after[n]}
