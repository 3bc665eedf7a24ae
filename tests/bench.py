#!/usr/bin/env python3
"""make bench: how long nmilab takes, measured here and now (not a test: CI machines are noisy).

- boot to ready: from starting QEMU to the kernel's "nmilab: ready" line on serial, under BIOS
  (SeaBIOS) and UEFI (OVMF), median of several boots. Target: under 1 s for BIOS under TCG.
- make test: the wall time of the whole test suite. Target: under 60 s on a 2-core machine.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the test runner: ISO building and QEMU firmware arguments)

BOOTS = int(os.environ.get("BOOTS", "5"))


def boot_to_ready(firmware):
    iso = run.iso_for("")
    scratch = tempfile.mkdtemp(prefix="nmilab-bench-")
    log = os.path.join(scratch, "serial.log")
    start = time.time()
    qemu = subprocess.Popen([run.QEMU, "-m", "256M", "-display", "none", "-no-reboot", "-serial", f"file:{log}",
                             *run.firmware_args(firmware, iso, scratch)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.time() - start < 120:
            if "nmilab: ready" in run.read(log):
                return time.time() - start
            time.sleep(0.01)
        raise SystemExit(f"bench: no 'nmilab: ready' within 120 s under {firmware}")
    finally:
        qemu.kill()
        qemu.wait()


def main():
    os.makedirs(run.ISOS, exist_ok=True)
    print(f"boot to ready (QEMU TCG, median of {BOOTS} boots):")
    for firmware in ("bios", "uefi"):
        times = [boot_to_ready(firmware) for _ in range(BOOTS)]
        print(f"  {firmware:5} median {statistics.median(times):6.2f} s   (min {min(times):.2f}, max {max(times):.2f})"
              + ("   target < 1 s" if firmware == "bios" else ""))
    start = time.time()
    result = subprocess.run(["make", "-s", "test"], cwd=run.ROOT, capture_output=True, text=True)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "(no output)"
    print(f"make test: {time.time() - start:.1f} s wall ({summary})   target < 60 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
