#!/usr/bin/env python3
"""Types random shell lines at nmilab over serial, as a curious student would, and checks that the
kernel answers every one with a prompt and never panics. Not part of make test (it takes minutes).

    python3 tests/fuzz_shell.py [--lines N] [--seed S] [--storm]

Lines are real commands with random arguments (kprobes on random kernel functions included),
random printable garbage and control characters. Left out: what ends the session on purpose
(lockup, reboot, poweroff) and the naive strategies (which crash on purpose at the first
pf-in-nmi). --storm also injects an external NMI every 20 ms the whole time.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import threading
import time

from nmilab_test.actions import type_lines
from nmilab_test.judge import UNKNOWN_NMI, wait_for
from nmilab_test.paths import KERNEL, LOGS, ROOT
from nmilab_test.runner import run_scenario
from nmilab_test.scenario import Scenario


def kernel_functions():
    out = subprocess.run(["nm", KERNEL], capture_output=True, text=True, check=True).stdout
    return [
        p[2] for p in (line.split() for line in out.splitlines()) if len(p) == 3 and p[1] in "tT"
    ]


def random_line(rng, functions, probed):
    pick = rng.random()
    if pick < 0.15:  # printable garbage, sometimes longer than the shell keeps
        return "".join(chr(rng.randint(32, 126)) for _ in range(rng.choice((1, 5, 20, 80, 130))))
    if pick < 0.2:  # control characters and escapes mixed in
        return "".join(
            chr(rng.choice((rng.randint(1, 31), rng.randint(32, 126), 127)))
            for _ in range(rng.randint(1, 12))
        )
    command = rng.choice(
        [
            "help",
            "nmi",
            "pf-in-nmi",
            "int3-in-nmi",
            "watchdog",
            "tasks",
            "dump",
            "kprobe",
            "kprobe",
            "vmalloc",
            "mode",
            "stats",
            "trace",
            "user",
            "user",
            "backtrace-all",
        ]
    )
    argument = {
        "nmi": lambda: rng.choice(["", "0", "1", "7", "100", "100001", "-1", "x", "2 3"]),
        "watchdog": lambda: rng.choice(["", "on", "off", "1", "2", "5", "0", "61", "abc"]),
        "kprobe": lambda: kprobe_arguments(rng, functions, probed),
        "mode": lambda: rng.choice(["nested", "latch", "bogus", ""]),
        "trace": lambda: rng.choice(["on", "off", "maybe"]),
        "user": lambda: rng.choice(
            [
                "",
                "hello",
                "syscall-loop 20",
                "syscall-loop 0",
                "fuzz 9",
                "read 0xffffffff80100000",
                "write 0x8000000000",
                "cli",
                "out",
                "bad-syscalls",
                "rsp-in-nmi-stack 0x1000",
                "cs-not-present",
                "noncanonical",
                "nosuch",
                "hello 0xzz",
                "hello 1 2",
            ]
        ),
    }.get(command, lambda: rng.choice(["", "", "extra"]))()
    return f"{command} {argument}".strip()


def kprobe_arguments(rng, functions, probed):
    """Adds probes on random functions and deletes them again (the shell holds 4 at a time)."""
    if probed and (len(probed) >= 4 or rng.random() < 0.4):
        return "del " + probed.pop(rng.randrange(len(probed)))
    if rng.random() < 0.1:
        return rng.choice(["bogus x", "add no_such_function", "del no_such_function", "add"])
    name = rng.choice(functions)
    probed.append(name)  # refused ones too: their del then says "not probed"
    return "add " + name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--storm", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    functions = kernel_functions()
    probed = []
    lines = [random_line(rng, functions, probed) for _ in range(args.lines)] + ["stats"]
    injected = [0]

    def action(context):
        # The storm's "unknown NMI" lines land anywhere, inside a prompt too: leave them out of
        # the log the prompts are counted in.
        raw_log = context.log
        context.log = lambda: UNKNOWN_NMI.sub("", raw_log())
        stop = threading.Event()

        def storm():
            while not stop.is_set():
                context.qmp.command("inject-nmi")
                injected[0] += 1
                time.sleep(0.02)

        thread = threading.Thread(target=storm, daemon=True)
        wait_for(
            context.log, r"nmilab> ", context.deadline
        )  # QEMU 7.2 dies on an NMI before the CPU runs
        if args.storm:
            thread.start()
        try:
            type_lines(lines)(context)
        finally:
            stop.set()
            if args.storm:
                thread.join()

    os.makedirs(LOGS, exist_ok=True)
    scenario = Scenario(
        "fuzz",
        "",
        "bios",
        expect="hang",
        serial_input=True,
        action=action,
        qemu_args=("-smp", "2"),
        done=r"CPU 0: strategy",
        timeout=60 + args.lines * 0.5,
    )
    ok, reason, seconds, log = run_scenario(scenario)
    log_path = os.path.join(LOGS, f"fuzz-seed{args.seed}.log")
    with open(log_path, "w") as f:
        f.write(log)
    panic = re.search(r"PANIC:.*", log)
    answered = (
        UNKNOWN_NMI.sub("", log).count("nmilab> ") - 1
    )  # a carriage return typed inside a line is a line too
    print(
        f"fuzz: seed {args.seed}, {args.lines} lines, {answered} answered, {injected[0]} NMIs "
        f"injected, "
        f"{seconds:.0f} s: "
        + ("ok" if ok and not panic else f"FAILED: {panic.group(0) if panic else reason}")
        + f" (log: {os.path.relpath(log_path, ROOT)})"
    )
    return 0 if ok and not panic else 1


if __name__ == "__main__":
    sys.exit(main())
