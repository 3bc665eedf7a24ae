#!/usr/bin/env python3
"""nmilab's test runner: the host unit tests, then every QEMU scenario.

A scenario boots the kernel under QEMU (software emulation, TCG) with test=NAME on the kernel
command line. The kernel prints TAP on serial and leaves through isa-debug-exit: QEMU exits with
33 for pass and 35 for fail. This runner reads the serial log and the exit status; it never trusts
one without the other. Logs of failed tests stay in build/test-logs/.

Some scenarios also run under Bochs, a second, independent emulator, stricter than QEMU in
places, and the only one here with x2APIC CPU models. Bochs has no isa-debug-exit: the kernel
powers off through ACPI, Bochs logs the soft-off and exits, and the TAP lines say pass or fail.

    python3 tests/run.py            everything
    python3 tests/run.py boot nmi   only the tests whose name contains one of the words
    python3 tests/run.py --list     the tests, one a line
    python3 tests/run.py labs       the lab checks (and the scenarios they need)
    python3 tests/run.py verify     make verify's bounded form (tests/verify.py --quick --mutants)
    python3 tests/run.py viewer     the viewer's pages: recorded again, and in a browser
    python3 tests/run.py --quick    the unit tests and one boot per NMI strategy (make check)

This file is only the command line: the harness is the package tests/nmilab_test (its
__init__.py lists its modules), the scenarios are in tests/nmilab_test/scenarios/.
"""
import argparse
import concurrent.futures
import os
import sys
import time

import verify
from nmilab_test import labs
from nmilab_test.historical import historical_checks
from nmilab_test.iso import iso_for
from nmilab_test.judge import keep_log, run_unit_tests
from nmilab_test.paths import ISOS, LOGS, ROOT
from nmilab_test.runner import run_scenario
from nmilab_test.scenarios import QUICK, SCENARIOS
from nmilab_test.source_checks import run_source_checks
from nmilab_test.viewer import browser_checks, handout_checks, template_checks

SLOWEST_SHOWN = 5


def print_check(kind, ok, lines):
    """One check's result line (lab, historical, verify) and its details, indented."""
    print(f"{'ok  ' if ok else 'FAIL'} {kind}: {lines[0]}", flush=True)
    for line in lines[1:]:
        print(f"     | {line.strip()}", flush=True)


def print_slowest(durations):
    """The scenarios that took longest, slowest first: where make test's wall time goes."""
    slowest = sorted(durations.items(), key=lambda item: item[1], reverse=True)[:SLOWEST_SHOWN]
    if slowest:
        print(f"the {len(slowest)} slowest scenarios:")
        for scenario_id, seconds in slowest:
            print(f"  {seconds:6.1f} s  {scenario_id}")


def start_order(s):
    """The slow UEFI boots start first, so that the last minute is not one of them running alone;
    Bochs stays last."""
    if s.firmware in ("uefi", "usb"):
        return 0
    if s.firmware.startswith("bochs"):
        return 2
    return 1


def main():
    parser = argparse.ArgumentParser(description="Run nmilab's unit tests and QEMU scenarios.")
    parser.add_argument("words", nargs="*", help="run only tests whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the tests and exit")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the unit tests and one boot per NMI strategy (make check)",
    )
    # One QEMU more than there are CPUs: every boot spends part of its time waiting (firmware
    # timers, the runner's sleeps between typed lines).
    parser.add_argument(
        "--jobs",
        type=int,
        default=(os.cpu_count() or 1) + 1,
        help="scenarios booted at once (default: CPUs + 1)",
    )
    args = parser.parse_args()
    lab_ids = set()
    if "labs" in args.words:
        lab_ids = {s.id for _, scenarios in labs.LABS.values() for s in scenarios}
    if args.quick:
        chosen = list(QUICK)
    else:
        chosen = [
            s
            for s in SCENARIOS
            if not args.words or any(w in s.id for w in args.words) or s.id in lab_ids
        ]
    chosen.sort(key=start_order)
    if args.list:
        print("unit tests (host)")
        print("checks (the checkers' own tests, the docs, the source)")
        for s in SCENARIOS:
            print(f"{s.id:40} {s.cmdline}")
        return 0
    started = time.time()
    os.makedirs(LOGS, exist_ok=True)
    os.makedirs(ISOS, exist_ok=True)
    passed = failed = 0
    everything = not args.words and not args.quick

    if args.quick or not args.words or any(w in "unit tests (host)" for w in args.words):
        for name, ok, detail in run_unit_tests():
            print(
                f"{'ok  ' if ok else 'FAIL'} unit: {name}" + ("" if ok else f": {detail}"),
                flush=True,
            )
            passed, failed = passed + ok, failed + (not ok)

    if args.quick or not args.words or "checks" in args.words:
        for name, ok, lines in run_source_checks():
            summary = lines[-1] if lines else "no output"
            print_check("check", ok, [f"{name}: {summary}"] + ([] if ok else lines[:-1][-40:]))
            passed, failed = passed + ok, failed + (not ok)

    # The ISOs first, one per command line.
    isos = sorted({(s.cmdline, s.menu_seconds, s.gfxpayload) for s in chosen})
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(lambda key: iso_for(*key), isos))
    results, durations = {}, {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_scenario, s): s for s in chosen}
        for future in concurrent.futures.as_completed(futures):
            s = futures[future]
            ok, reason, seconds, log = future.result()
            results[s.id], durations[s.id] = ok, seconds
            log_file = keep_log(s, ok, log)
            if ok:
                print(f"ok   {s.id} ({seconds:.1f} s)", flush=True)
                passed += 1
            else:
                print(f"FAIL {s.id}: {reason} (log: {os.path.relpath(log_file, ROOT)})", flush=True)
                for line in log.strip().splitlines()[-12:]:  # the end of the log, for CI output
                    print(f"     | {line[:150]}", flush=True)
                failed += 1
    if everything or "labs" in args.words:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            checks = {pool.submit(labs.check, lab, results): lab for lab in labs.LABS}
            for future in concurrent.futures.as_completed(checks):
                lab = checks[future]
                ok, message = future.result()
                first, *details = message.split("\n")
                print(
                    f"{'ok  ' if ok else 'FAIL'} lab {lab} ({labs.LABS[lab][0]}): {first}",
                    flush=True,
                )
                for line in details:
                    print(f"     | {line}", flush=True)
                passed, failed = passed + ok, failed + (not ok)
    if everything or "viewer" in args.words:  # docs/viewer/ in headless Chromium
        for ok, lines in [*template_checks(), *handout_checks(), *browser_checks()]:
            print_check("viewer", ok, lines)
            passed, failed = passed + ok, failed + (not ok)
    if everything or "historical" in args.words:
        for ok, lines in historical_checks():
            print_check("historical", ok, lines)
            passed, failed = passed + ok, failed + (not ok)
    if everything or "verify" in args.words:  # make verify's bounded form (tests/verify.py)
        for ok, lines in verify.checks(quick=True, with_mutants=True, jobs=args.jobs):
            print_check("verify", ok, lines)
            passed, failed = passed + ok, failed + (not ok)
    print_slowest(durations)
    print(f"{passed} passed, {failed} failed ({time.time() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
