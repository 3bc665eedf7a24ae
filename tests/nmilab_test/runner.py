"""Runs one scenario: boots it under QEMU or Bochs, lets its action drive the machine, watches the
serial log until the kernel is done, and judges what it printed."""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from .bochs import bochs_command, bochs_status
from .cpu_watch import CpuWatch
from .judge import judge, read
from .kernel_image import symbol_name
from .qemu import qemu_command
from .qmp import Qmp
from .sockets import connect_unix, copy_to_file


class RunContext:
    """What an action gets: the serial log so far, QMP, the deadline, and the sockets."""

    def __init__(self, log, qmp, deadline, gdb_path, serial):
        self.log, self.qmp, self.deadline, self.gdb_path, self.serial = (
            log,
            qmp,
            deadline,
            gdb_path,
            serial,
        )
        self.note = None  # what the action did last, for the report when the kernel then hangs


def run_scenario(s):
    """Boots one scenario; returns (passed, reason, seconds, log text)."""
    start = time.time()
    scratch = tempfile.mkdtemp(prefix="nmilab-test-")
    log_path = os.path.join(scratch, "serial.log")
    qmp_path = os.path.join(scratch, "qmp.sock")
    gdb_path = os.path.join(scratch, "gdb.sock")
    serial_path = os.path.join(scratch, "serial.sock")
    serial = ["-serial", f"file:{log_path}"]
    if s.serial_input:  # a socket to type into; QEMU waits until the runner is connected to it
        serial = [
            "-chardev",
            f"socket,id=serial0,path={serial_path},server=on,wait=on",
            "-serial",
            "chardev:serial0",
        ]
    bochs = s.firmware.startswith("bochs")
    if bochs:
        command = bochs_command(s, scratch, log_path)
    else:
        command = qemu_command(s, serial, qmp_path, gdb_path, scratch)
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    deadline = start + s.timeout
    status, timed_out, context = None, False, None
    try:
        serial_socket = None
        if (
            s.serial_input
        ):  # everything the kernel sends goes to the log file, as with -serial file:
            serial_socket = connect_unix(serial_path, deadline)
            threading.Thread(
                target=copy_to_file, args=(serial_socket, log_path), daemon=True
            ).start()
        if s.action:
            context = RunContext(
                lambda: read(log_path), Qmp(qmp_path, deadline), deadline, gdb_path, serial_socket
            )
            s.action(context)
        # Scenarios with an action share QMP with it, and one that hangs on purpose is silent.
        watch = None if bochs or s.action or s.expect == "hang" else CpuWatch(qmp_path)
        started = None  # when s.finish_within's pattern appeared
        while status is None:
            status = process.poll()
            if status is None and s.finish_within and started is None:
                started = re.search(s.finish_within[0], read(log_path)) and time.time()
            if status is None and started and time.time() - started > s.finish_within[1]:
                timed_out = True
                break
            lost = watch and status is None and watch.lost(read(log_path))
            if lost:
                reason = lost + (f" ({s.hint})" if s.hint else "")
                return finish(s, scratch, process, False, reason, start, log_path)
            if bochs:  # Bochs' own exit status says nothing: read what happened from the logs
                exited, status = status, bochs_status(scratch, read(log_path))
                if status is None and exited is not None:
                    return finish(
                        s,
                        scratch,
                        process,
                        False,
                        f"Bochs exited ({exited}) without powering off",
                        start,
                        log_path,
                    )
            if status is None and s.done and re.search(s.done, read(log_path)):
                time.sleep(s.settle)  # let the rest of the line arrive (or watch a while longer)
                status = process.poll()
                break
            if status is None and time.time() > deadline:
                timed_out = True
                break
            time.sleep(0.05)
    except Exception as error:  # a broken QMP exchange is a failed test, not a crashed runner
        log = read(log_path)
        # A kernel that failed its scenario powers off while the runner still drives it: say that.
        reason = (
            "the kernel failed the scenario"
            if re.search(r"^not ok", log, re.M)
            else f"runner error: {error}"
        )
        reason += where_it_stopped(log, qmp_path, bochs, context) + (
            f" ({s.hint})" if s.hint else ""
        )
        return finish(s, scratch, process, False, reason, start, log_path)
    log = read(log_path)
    reason = judge(s, status, timed_out, log)
    if reason and timed_out:
        if context is None and watch and watch.qmp:  # QEMU takes one QMP client at a time
            context = RunContext(None, watch.qmp, deadline, gdb_path, None)
        reason += where_it_stopped(log, qmp_path, bochs, context)
    if reason and s.hint:
        reason += f" ({s.hint})"
    return finish(s, scratch, process, reason is None, reason, start, log_path)


def where_it_stopped(log, qmp_path, bochs, context):
    """For a kernel that hangs: the scenario's last TAP comment, what the runner did last, and
    where the CPU is (RIP and its function, from QEMU's monitor)."""
    parts = []
    failed = re.search(r"^not ok .*$", log, re.M)
    comments = re.findall(r"^# (?!debugger:|FAILED|all passed)(.*)$", log, re.M)
    if failed:
        parts.append(failed.group(0))
    elif comments:
        parts.append(f"last comment: '{comments[-1][:100]}'")
    if context and context.note:
        parts.append(context.note)
    if not bochs:
        try:
            qmp = (
                context.qmp if context else Qmp(qmp_path, time.time() + 2)
            )  # QEMU takes one QMP client at a time
            qmp.sock.settimeout(2)
            reply = qmp.command("human-monitor-command", **{"command-line": "info registers"})
            rip = int(re.search(r"RIP=([0-9a-f]+)", reply.get("return", "")).group(1), 16)
            parts.append(f"the CPU is at {rip:016x} {symbol_name(rip)}")
        except Exception:  # QEMU gone or not answering: say nothing about the CPU
            pass
    return "; " + "; ".join(parts) if parts else ""


def finish(s, scratch, process, passed, reason, start, log_path):
    if process.poll() is None:
        process.kill()
    process.wait()
    stderr = process.stderr.read().decode("utf-8", "replace")
    log = read(log_path)
    if stderr.strip():
        log += "\n--- qemu stderr ---\n" + stderr
    shutil.rmtree(scratch, ignore_errors=True)
    return passed, reason, time.time() - start, log
