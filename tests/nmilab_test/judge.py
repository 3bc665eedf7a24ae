"""Reading what a boot printed: the serial log, its TAP lines, the host unit tests' TAP; deciding
whether a scenario did what it must, and keeping the logs of those that did not."""
import os
import re
import subprocess
import time

from .paths import BUILD, LOGS
from .qemu import QEMU_EXIT_FAIL, QEMU_EXIT_PASS

# An NMI from outside that nothing claimed; its line may land inside another line.
UNKNOWN_NMI = re.compile(
    r"NMI: unknown NMI \(#\d+\) at [0-9a-f]+: no handler claimed it and port 0x61 shows no reason\n"
)


def wait_for(log, pattern, deadline):
    """Waits until log() matches pattern; TimeoutError after the deadline."""
    while not re.search(pattern, log()):
        if time.time() > deadline:
            raise TimeoutError(f"the kernel never printed /{pattern}/")
        time.sleep(0.02)


def read(path):
    """A serial log as text (empty before the file exists)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\r", "")
    except FileNotFoundError:
        return ""


def judge(s, status, timed_out, log):
    """None when the scenario did what it must, else why not (one line)."""
    if timed_out and s.finish_within and re.search(s.finish_within[0], log):
        pattern, seconds = s.finish_within
        return f"not finished {seconds} s after /{pattern}/: {s.expect} expected"
    if timed_out:
        return f"timed out after {s.timeout} s" + ("" if log.strip() else " with no serial output")
    if s.expect == "hang":
        if status is not None:
            return f"QEMU exited ({status}) instead of halting with a message"
    elif status == 0 and s.expect != "poweroff":
        return "QEMU exited 0: the machine reset (a triple fault?) instead of reporting"
    elif s.expect == "pass":
        bad = re.search(r"^not ok .*$", log, re.M)
        if bad:
            return bad.group(0)
        if "PANIC:" in log:
            return "kernel panic: " + re.search(r"PANIC:.*", log).group(0)
        if not re.search(r"^ok \d+ - ", log, re.M):
            return "no TAP result line"
        if status != QEMU_EXIT_PASS:
            return f"QEMU exit status {status}, not {QEMU_EXIT_PASS} (pass)"
    elif s.expect == "poweroff":
        if "PANIC:" in log:
            return "kernel panic: " + re.search(r"PANIC:.*", log).group(0)
        if status != 0:  # the kernel's power-off is ACPI soft-off: QEMU exits 0
            return f"QEMU exit status {status}, not 0 (ACPI soft-off)"
    elif s.expect in ("panic", "fail"):
        if status != QEMU_EXIT_FAIL:
            return f"QEMU exit status {status}, not {QEMU_EXIT_FAIL} (the kernel's failure exit)"
        if s.expect == "panic" and "PANIC:" not in log:
            # a scenario that saw the report not come ends in a TAP line saying what it saw
            failed = re.search(r"^not ok .*$", log, re.M)
            return (failed.group(0) + " (no PANIC: report)") if failed else "no PANIC: report"
    # An external NMI's "unknown NMI" line can land in the middle of another line (printk from
    # NMI context): a pattern may also match the log without those lines.
    without_unknown_nmis = UNKNOWN_NMI.sub("", log)
    for pattern in s.must:
        if not re.search(pattern, log) and not re.search(pattern, without_unknown_nmis):
            return f"serial output lacks /{pattern}/"
    for pattern in s.must_not:
        if re.search(pattern, log):
            return f"serial output has /{pattern}/"

    return s.check(log) if s.check else None


def keep_log(s, ok, log):
    """The serial log of a failed scenario stays in build/test-logs/ (a passed one's is removed);
    returns its path."""
    os.makedirs(LOGS, exist_ok=True)
    log_file = os.path.join(LOGS, re.sub(r"[^\w.-]+", "_", s.id).strip("_") + ".log")
    if ok:
        if os.path.exists(log_file):
            os.remove(log_file)
    else:
        with open(log_file, "w") as f:
            f.write(log)
    return log_file


def run_unit_tests():
    """The host unit tests' TAP lines, as (name, passed, detail)."""
    result = subprocess.run([os.path.join(BUILD, "unit_tests")], capture_output=True, text=True)
    results, comments = [], []
    for line in result.stdout.splitlines():
        m = re.match(r"(not ok|ok) \d+ - (.*)", line)
        if m:
            results.append((m.group(2), m.group(1) == "ok", "; ".join(comments)))
            comments = []
        elif line.startswith("#"):
            comments.append(line[1:].strip())
    if result.returncode != 0 and all(ok for _, ok, _ in results):
        results.append(
            (
                "unit test program",
                False,
                f"exit status {result.returncode}: {result.stderr.strip()[-300:]}",
            )
        )
    return results
