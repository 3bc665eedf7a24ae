#!/usr/bin/env python3
"""make bench: how long nmilab takes, measured here and now (not a test: CI machines are noisy).

- boot to ready: from starting QEMU to the kernel's "nmilab: ready" line on serial, under BIOS
  (SeaBIOS) and UEFI (OVMF), median of several boots, side by side with the floor: a multiboot2
  kernel that only prints that line (tests/bench/floor.asm) through the same GRUB and firmware.
  Targets: under 1 s for BIOS under TCG, with 1 CPU and with 4; UEFI within 0.3 s of its floor.
  The same under Bochs (its BIOS, an x2APIC CPU), the second emulator of make test.
- NMI path length: instructions executed from the NMI vector to the final iretq, counted exactly
  from a QEMU execution trace (one instruction per translation block, every block logged), for
  each strategy, with no NMI nested and with one nested NMI. Target: nested costs at most 27
  instructions more than naive-raw when nothing nests, and adds no serializing instruction there.
- exception return: the instructions of a fixed-up page fault and of an int3 taken with no NMI
  running, from the vector's stub to the final iretq (or ret), from the same trace
  (test=nmi-bench, tests/kernel/scenarios_bench.c). The exit of every exception runs them: a
  strategy that tests there whether it returns into an NMI handler (nmi=ret, Desnoyers' 2010
  answer) pays that test on every fault.
- throughput: page faults (fixed up, in a loop) and self-NMIs handled per second, timed by the
  kernel with the TSC, median of its rounds, one boot per strategy (RATE_BOOTS=N: N each, the
  strategies in turn), not traced (test=nmi-bench-rates). Under TCG only the ratios to naive-raw
  mean something, and the #PF/s of strategies with the same #PF exit show the noise.
- a table, one row per strategy: each path's instructions and what it adds to naive-raw's, and
  the two rates as ratios to naive-raw's. The strategies are those the built kernel accepts
  (its strategies table), in the order of STRATEGIES: ret is measured once the kernel has it.
- make test: the wall time of the whole test suite. Target: under 5 minutes on a 2-core machine
  (CI allows 90; the bounded make verify and the GRUB menu demos take about 100 s of it).

BENCH_PARTS=paths,rates (a comma list of boot, paths, rates, test; default all) runs only those
parts: paths and rates take well under a minute, the boot times and make test several.
"""
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from nmilab_test.bochs import bochs_command
from nmilab_test.iso import iso_for
from nmilab_test.judge import read
from nmilab_test.kernel_image import image_bytes, image_string, symbol, symbol_extent
from nmilab_test.paths import BUILD, ISOS, KERNEL, ROOT
from nmilab_test.qemu import DEBUG_EXIT, QEMU, QEMU_BASE, firmware_args
from nmilab_test.scenario import Scenario

BOOTS = int(os.environ.get("BOOTS", "5"))
TRACE_SECONDS = 60
RATES_SECONDS = 120  # a run takes a few seconds
RATE_BOOTS = int(os.environ.get("RATE_BOOTS", "1"))  # boots of test=nmi-bench-rates per strategy
ALL_PARTS = ("boot", "paths", "rates", "test")
PARTS = (os.environ.get("BENCH_PARTS") or ",".join(ALL_PARTS)).split(",")
# The strategies, in the table's order. One the built kernel does not accept is left out (ret,
# before it lands; kernel_strategies), and one it has that is not here is measured last.
STRATEGIES = ("naive-raw", "naive", "nested", "latch", "ret")


def floor_iso():
    """The ISO of tests/bench/floor.asm, a multiboot2 kernel that only prints the ready line: the
    same GRUB, menu and firmware as nmilab's, so boot-to-ready has a floor to be compared with."""
    source, obj, elf, iso = (
        os.path.join(ROOT, "tests", "bench", "floor.asm"),
        *(os.path.join(BUILD, name) for name in ("floor.o", "floor.elf", "floor.iso")),
    )
    subprocess.run(["nasm", "-f", "elf32", source, "-o", obj], check=True)
    subprocess.run(
        ["ld", "-m", "elf_i386", "-n", "-Ttext=0x100000", "-e", "floor_start", "-o", elf, obj],
        check=True,
    )
    subprocess.run([os.path.join(ROOT, "tools", "mkiso.sh"), elf, iso, "", "0"], check=True)
    return iso


def boot_to_ready(firmware, iso=None, cpus=1, machine=None):
    iso = iso or iso_for("")
    scratch = tempfile.mkdtemp(prefix="nmilab-bench-")
    log = os.path.join(scratch, "serial.log")
    if firmware.startswith("bochs"):
        command = bochs_command(Scenario("bench", "", firmware), scratch, log)
    else:
        command = [
            QEMU,
            "-m",
            "256M",
            "-smp",
            str(cpus),
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            f"file:{log}",
            *(["-machine", machine] if machine else []),
            *firmware_args(firmware, iso, scratch),
        ]
    start = time.time()
    qemu = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    try:
        while time.time() - start < 120:
            if "nmilab: ready" in read(log):
                return time.time() - start
            time.sleep(0.01)
        raise SystemExit(f"bench: no 'nmilab: ready' within 120 s under {firmware}")
    finally:
        qemu.kill()
        qemu.wait()


SERIALIZING = {
    "iretq",
    "iret",
    "cpuid",
    "wrmsr",
    "lgdt",
    "lidt",
    "ltr",
    "invd",
    "wbinvd",
    "invlpg",
    "mfence",
    "lfence",
}


def disassembly():
    """address -> mnemonic for every kernel instruction (mov to a control register counts as
    serializing too; it shows as 'mov %r..,%crN')."""
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", KERNEL], capture_output=True, text=True
    ).stdout
    table = {}
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if m:
            mnemonic = m.group(2)
            if mnemonic == "mov" and re.search(r",%(cr\d|dr\d)", m.group(3)):
                mnemonic = "mov-to-" + m.group(3).split(",%")[-1]
            table[int(m.group(1), 16)] = mnemonic
    return table


def nmi_entry_code():
    """The address range of nmi_entry.asm's code (it starts with nmi_entry_naive)."""
    sizes = subprocess.run(
        ["size", "-A", os.path.join(BUILD, "arch/x86_64/nmi_entry.o")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text_size = int(re.search(r"^\.text(\.entry)?\s+(\d+)", sizes, re.M).group(2))
    start = symbol("nmi_entry_naive")
    return start, start + text_size


def trace_nmi_bench(strategy):
    """Runs test=nmi-bench under one strategy with QEMU's execution trace; returns the address of
    every instruction the kernel executed, in order, or None if the scenario did not pass (no
    figures from a kernel that hangs or fails: a lab handout before its TODO is done)."""
    scratch = tempfile.mkdtemp(prefix="nmilab-bench-")
    trace, serial = os.path.join(scratch, "trace.log"), os.path.join(scratch, "serial.log")
    iso = iso_for(f"test=nmi-bench nmi={strategy}")
    qemu = subprocess.Popen(
        [
            *QEMU_BASE,
            "-serial",
            f"file:{serial}",
            *DEBUG_EXIT,
            "-cdrom",
            iso,
            "-singlestep",
            "-d",
            "exec,nochain",
            "-dfilter",
            "0xffffffff80100000+0x400000",
            "-D",
            trace,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + TRACE_SECONDS  # a normal run takes a few seconds
    while (
        qemu.poll() is None
        and time.time() < deadline
        and not re.search(r"^not ok|PANIC", read(serial), re.M)
    ):
        time.sleep(0.1)
    qemu.kill()
    qemu.wait()
    if not re.search(r"^ok 1 - nmi-bench", read(serial), re.M):
        return None
    with open(trace) as f:
        return [
            int(m.group(1), 16) for m in (re.search(r"/([0-9a-f]{16})/", line) for line in f) if m
        ]


def nmi_episodes(pcs, entry, code):
    """The NMIs of a trace of test=nmi-bench: the list of episodes, each the list of instruction
    addresses from the NMI vector (entry) to the final iretq."""
    entry_code = nmi_entry_code()
    repeat = symbol("repeat_nmi")
    episodes, i = [], 0
    while i < len(pcs):
        if pcs[i] != entry:
            i += 1
            continue
        depth, j = 0, i
        while j < len(pcs):
            pc = pcs[j]
            if pc == entry:
                depth += 1
            elif code.get(pc) == "iretq" and entry_code[0] <= pc < entry_code[1]:
                if not (
                    j + 1 < len(pcs) and pcs[j + 1] == repeat
                ):  # that one only asks for a repeat
                    depth -= 1
            if depth == 0:
                break
            j += 1
        if depth == 0:  # an episode the trace saw to its end
            episodes.append(pcs[i : j + 1])
        i = j + 1
    return episodes


def nmi_path_lengths(traces, entries, code):
    """The NMI path's lines, from each strategy's trace (None: the scenario did not pass); returns
    strategy -> the length of its path when nothing nests."""
    entry_code = nmi_entry_code()
    # The checks (a), (b), (c): what nmi_entry_nested executes after `push rdx` (before it: count
    # the entry, and lab 7's test for user mode) and before first_nmi, when nothing nests.
    entry, first_nmi = symbol("nmi_entry_nested"), symbol("first_nmi")
    head = sorted(a for a in code if entry <= a < first_nmi)
    checks = head[next(i for i, a in enumerate(head) if code[a] == "push") + 1 :]
    print("NMI path, instructions from the vector to the final iretq (QEMU trace, exact):")
    lengths, in_entry, in_checks = {}, {}, None
    for strategy, pcs in traces.items():
        if pcs is None:
            print(
                f"  {strategy:9} test=nmi-bench did not pass (it hung or failed; in a lab handout: "
                f"the lab's TODO?): "
                "no figures"
            )
            continue
        episodes = nmi_episodes(pcs, entries[strategy], code)
        # The first episode in which the entry runs again before the final iretq: nested. Under
        # nmi=ret none is: the pending NMI waits for the first one's own iretq.
        nested = [e for e in episodes[1:] if e.count(entries[strategy]) > 1]
        one_nested = nested[0] if nested else None
        for label, episode in (("not nested", episodes[0]), ("one nested", one_nested)):
            if episode is None and len(episodes) == 1:
                print(
                    f"  {strategy:9} {label:11} not run: the naive entry does not survive a nested "
                    f"NMI"
                )
                continue
            if episode is None:
                print(
                    f"  {strategy:9} {label:11} none: the pending NMI came after the first one's "
                    f"final iretq, as a first NMI"
                )
                continue
            serializing = [
                code.get(pc, "?")
                for pc in episode
                if code.get(pc, "?") in SERIALIZING or code.get(pc, "").startswith("mov-to-")
            ]
            lengths[(strategy, label)] = len(episode)
            in_entry[(strategy, label)] = sum(entry_code[0] <= pc < entry_code[1] for pc in episode)
            if (strategy, label) == ("nested", "not nested"):
                in_checks = sum(pc in checks for pc in episode)
            print(
                f"  {strategy:9} {label:11} {len(episode):5} instructions "
                f"({in_entry[(strategy, label)]:3} in "
                f"nmi_entry.asm); serializing: "
                + (
                    ", ".join(f"{serializing.count(x)}x {x}" for x in sorted(set(serializing)))
                    or "none"
                )
            )
    if in_checks is not None:
        print(
            f"  nested, nothing nested: {in_checks} instructions in the checks (a), (b), (c) (lab "
            f"4)"
        )
    if ("nested", "not nested") in lengths and ("naive-raw", "not nested") in lengths:
        extra = in_entry[("nested", "not nested")] - in_entry[("naive-raw", "not nested")]
        total = lengths[("nested", "not nested")] - lengths[("naive-raw", "not nested")]
        print(
            f"  nested - naive-raw, nothing nested: {extra:+d} instructions in the entry code "
            f"({total:+d} in all: the C wrappers differ)   target <= +27"
        )
    return {s: n for (s, label), n in lengths.items() if label == "not nested"}


def kernel_strategies():
    """The NMI strategies the built kernel accepts, as nmi= names them, each with the address of
    its NMI entry: kernel/nmi.c's strategies table (name, entry), read from kernel.elf.
    Ordered as STRATEGIES, then any other the kernel has."""
    address, size = symbol_extent("strategies")
    words = struct.unpack(f"<{size // 8}Q", image_bytes(address, size))
    known = {image_string(name): entry for name, entry in zip(words[0::2], words[1::2]) if name}
    order = [s for s in STRATEGIES if s in known] + [s for s in known if s not in STRATEGIES]
    return {s: known[s] for s in order}


def exception_return(pcs, code, caller, stub, entry_text):
    """From a trace of test=nmi-bench: the first exception after caller last ran (the scenario
    takes them after its NMIs, with no NMI running), from the gate's target (the vector's stub,
    or the clac in front of it where the CPU has SMAP) to the iretq, or ret, that leaves the
    entry code; the next instruction is where the exception returned to. None if the trace has
    no such exception."""
    called = max((i for i, pc in enumerate(pcs) if pc == caller), default=None)
    if called is None or stub not in pcs[called:]:
        return None
    start = pcs.index(stub, called)
    if code.get(pcs[start - 1]) == "clac" and pcs[start - 1] == stub - 3:
        start -= 1

    def in_entry(pc):
        return entry_text[0] <= pc < entry_text[1]

    for j in range(start + 1, len(pcs) - 1):
        if in_entry(pcs[j]) and code.get(pcs[j]) in ("iretq", "ret") and not in_entry(pcs[j + 1]):
            return pcs[start : j + 1]
    return None


def exception_path_lengths(traces, code):
    """The exit every exception pays, when no NMI is running: the instructions of a fixed-up page
    fault and of an int3 (both with a handler that claims them), from each strategy's trace;
    returns (strategy, exception) -> length."""
    entry_text = symbol("entry_text_start"), symbol("entry_text_end")

    def cases(strategy):
        """(label, caller, stub, where the exit starts): nmi=ret points #PF's and #BP's gates at
        its own stubs, whose exit tests for a return into an NMI handler (kernel/nmi.c)."""
        ret = "_ret" if strategy == "ret" else ""
        exit_start = symbol("trap_return_ret_strategy" if ret else "trap_return")
        return (
            ("#PF", symbol("nmi_provoke_fault"), symbol(f"trap_stub{ret}_14"), exit_start),
            ("int3", symbol("provoked_int3"), symbol(f"trap_stub{ret}_3"), exit_start),
        )

    print(
        "exception return, no NMI running: instructions from the vector's stub to the final "
        "iretq or ret (QEMU trace, exact; #PF: fixed up through the exception table; int3: a "
        "hook claims it):"
    )
    lengths = {}
    for strategy, pcs in traces.items():
        if pcs is None:
            print(f"  {strategy:9} test=nmi-bench did not pass: no figures")
            continue
        for label, caller, stub, exit_start in cases(strategy):
            path = exception_return(pcs, code, caller, stub, entry_text)
            if path is None:
                print(f"  {strategy:9} {label:4} not in the trace")
                continue
            lengths[(strategy, label)] = len(path)
            in_entry = sum(entry_text[0] <= pc < entry_text[1] for pc in path)
            # The exit alone: 19 instructions from trap_return on for every strategy but ret,
            # whose own exceptions' exit starts with the test for "into an NMI handler?".
            exit_length = len(path) - path.index(exit_start) if exit_start in path else 0
            print(
                f"  {strategy:9} {label:4} {len(path):5} instructions ({in_entry:3} in the entry "
                f"code, {exit_length:2} of them in the exit); ends with "
                f"{code.get(path[-1], '?')}"
            )
    return lengths


def rates(strategy):
    """Boots test=nmi-bench-rates under one strategy (no trace) and returns what -> its rounds'
    rates ("page faults", "NMIs": per second, timed by the kernel with the TSC), or None if the
    scenario did not pass."""
    scratch = tempfile.mkdtemp(prefix="nmilab-bench-")
    serial = os.path.join(scratch, "serial.log")
    iso = iso_for(f"test=nmi-bench-rates nmi={strategy}")
    qemu = subprocess.Popen(
        [*QEMU_BASE, "-serial", f"file:{serial}", *DEBUG_EXIT, "-cdrom", iso],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        qemu.wait(timeout=RATES_SECONDS)
    except subprocess.TimeoutExpired:
        qemu.kill()
        qemu.wait()
    log = read(serial)
    if not re.search(r"^ok 1 - nmi-bench-rates$", log, re.M):
        return None
    rounds = {}
    for what, per_second in re.findall(
        r"^# bench-rate: nmi=\S+ (.+) round \d+: \d+ in \d+ TSC ticks: (\d+) per second$", log, re.M
    ):
        rounds.setdefault(what, []).append(int(per_second))
    return rounds


def throughput(strategies):
    """RATE_BOOTS boots of test=nmi-bench-rates per strategy, the strategies in turn (so that a
    change in the machine's load falls on each alike); its lines, and strategy -> what -> the
    median of every round of its boots."""
    print(
        f"throughput, {RATE_BOOTS} boot(s) per strategy (not traced): per second, the median of "
        "the kernel's rounds (TSC), and the ratio to naive-raw (under TCG only the ratios say "
        "something):"
    )
    rounds, failed = {}, set()
    for _ in range(RATE_BOOTS):
        for strategy in strategies:
            result = rates(strategy)
            if result is None:
                failed.add(strategy)
            for what, values in (result or {}).items():
                rounds.setdefault(strategy, {}).setdefault(what, []).extend(values)
    measured = {
        strategy: {what: statistics.median(values) for what, values in kinds.items()}
        for strategy, kinds in rounds.items()
        if strategy not in failed
    }
    base = measured.get("naive-raw", {})
    for strategy in strategies:
        if strategy not in measured:
            print(f"  {strategy:9} test=nmi-bench-rates did not pass: no figures")
            continue
        print(
            f"  {strategy:9} "
            + "; ".join(
                f"{what} {value:9.0f}/s"
                + (f" (x{value / base[what]:.2f})" if base.get(what) else "")
                for what, value in sorted(measured[strategy].items(), reverse=True)
            )
        )
    return measured


def price_table(strategies, nmi_lengths, exception_lengths, measured):
    """One row per strategy: what it costs where, as differences (instructions) and ratios
    (throughput) to naive-raw, the hardware's own behaviour with nothing added."""

    def added(value, base):
        return "-" if value is None or base is None else f"{value - base:+d}"

    def count(value):
        return "-" if value is None else str(value)

    def ratio(strategy, what):
        base = measured.get("naive-raw", {}).get(what)
        value = measured.get(strategy, {}).get(what)
        return "-" if not base or value is None else f"{value / base:.2f}"

    print(
        "the price of each strategy against naive-raw (instructions when nothing nests, exact; "
        "rates: medians, ratios):"
    )
    header = (
        f"  {'strategy':9} | {'NMI path':>8} {'added':>5} | {'#PF exit':>8} {'added':>5} | "
        f"{'int3 exit':>9} {'added':>5} | {'#PF/s':>5} | {'NMI/s':>5}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for strategy in strategies:
        cells = []
        for lengths, key, width in (
            (nmi_lengths, strategy, 8),
            (exception_lengths, (strategy, "#PF"), 8),
            (exception_lengths, (strategy, "int3"), 9),
        ):
            base_key = "naive-raw" if key == strategy else ("naive-raw", key[1])
            value = lengths.get(key)
            cells.append(f"{count(value):>{width}} {added(value, lengths.get(base_key)):>5}")
        print(
            f"  {strategy:9} | "
            + " | ".join(cells)
            + f" | {ratio(strategy, 'page faults'):>5} | {ratio(strategy, 'NMIs'):>5}"
        )
    # The noise of the rates: strategies whose #PF exit is naive-raw's, instruction for
    # instruction, differ in their #PF/s only by chance.
    same = [
        s
        for s in strategies
        if exception_lengths.get((s, "#PF")) == exception_lengths.get(("naive-raw", "#PF"), -1)
        and ratio(s, "page faults") != "-"
    ]
    if len(same) > 1:
        spread = sorted(float(ratio(s, "page faults")) for s in same)
        print(
            f"  noise: {', '.join(same)} take the same #PF exit, and their #PF/s ratios still "
            f"spread {spread[0]:.2f}..{spread[-1]:.2f}: a ratio within that is no difference"
        )


def without_replays(pcs, code):
    """A trace without the instructions QEMU logged twice in a row: it logs a block as it enters
    it, and now and then leaves it at once for an exit request (one of its own timers) and
    enters it again (about 5 in each trace of 470,000; once, an int3's path read 114, not 113).
    Only a rep string instruction runs again at the same address: once per iteration."""
    return [
        pc
        for i, pc in enumerate(pcs)
        if i == 0 or pc != pcs[i - 1] or code.get(pc, "").startswith("rep")
    ]


def instruction_counts(strategies):
    """Traces test=nmi-bench under each strategy; prints the NMI path's lines and the exception
    return's; returns (NMI lengths, exception lengths)."""
    code = disassembly()
    traces = {}
    for strategy in strategies:
        pcs = trace_nmi_bench(strategy)
        traces[strategy] = None if pcs is None else without_replays(pcs, code)
    nmi_lengths = nmi_path_lengths(traces, strategies, code)
    return nmi_lengths, exception_path_lengths(traces, code)


def boot_times():
    """Boot to ready under each firmware, against the floor's."""
    print(
        f"boot to ready (QEMU TCG, then Bochs; median of {BOOTS} boots; the floor is a multiboot2 "
        f"kernel that "
        "only prints the line, through the same GRUB and firmware, booted in turn with nmilab's):"
    )
    floor = floor_iso()
    # pc,pit=off: a machine whose PIT does not count; the timer is measured against the HPET
    rows = (
        ("bios", 1, None),
        ("bios", 4, None),
        ("bios", 1, "pc,pit=off"),
        ("uefi", 1, None),
        ("bochs corei7_skylake_x", 1, None),
    )
    for firmware, cpus, machine in rows:
        times, floors = [], []
        for _ in range(BOOTS):
            times.append(boot_to_ready(firmware, cpus=cpus, machine=machine))
            if not firmware.startswith("bochs"):
                floors.append(boot_to_ready(firmware, floor, cpus, machine))
        label = firmware + (f", {cpus} CPUs" if cpus > 1 else "")
        label += ", pit=off" if machine else ""
        line = (
            f"  {label:22} median {statistics.median(times):6.2f} s   "
            f"(min {min(times):.2f}, max {max(times):.2f})"
        )
        if floors:
            line += (
                f"; floor {statistics.median(floors):.2f} s, nmilab "
                f"+{statistics.median(times) - statistics.median(floors):.2f} s"
                + ("   target < 1 s" if firmware == "bios" else "   target: floor + 0.3 s")
            )
        print(line)


def main():
    os.makedirs(ISOS, exist_ok=True)
    unknown = [part for part in PARTS if part not in ALL_PARTS]
    if unknown:
        raise SystemExit(
            f"bench: BENCH_PARTS: no part {', '.join(unknown)} (the parts: "
            f"{','.join(ALL_PARTS)})"
        )
    if "boot" in PARTS:
        boot_times()
    strategies = kernel_strategies()
    nmi_lengths, exception_lengths, measured = {}, {}, {}
    if "paths" in PARTS:
        nmi_lengths, exception_lengths = instruction_counts(strategies)
    if "rates" in PARTS:
        measured = throughput(strategies)
    if "paths" in PARTS or "rates" in PARTS:
        price_table(strategies, nmi_lengths, exception_lengths, measured)
    if "test" in PARTS:
        start = time.time()
        result = subprocess.run(["make", "-s", "test"], cwd=ROOT, capture_output=True, text=True)
        out = result.stdout.strip()
        summary = out.splitlines()[-1] if out else "(no output)"
        print(f"make test: {time.time() - start:.1f} s wall ({summary})   target < 300 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
