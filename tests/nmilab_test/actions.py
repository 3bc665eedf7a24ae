"""Runner actions: what a scenario does to the machine while it runs, as a person or a hardware
debugger would. Each is a function of a RunContext (runner.py): the log so far, QMP, the gdb
stub's socket, the serial line and the deadline."""
import re
import threading
import time

from .gdbstub import Gdb
from .judge import UNKNOWN_NMI, wait_for
from .kernel_image import symbol, symbol_name


# The #PF's entry: its gate points at the second under nmi=ret (kernel/nmi.c).
PAGE_FAULT_STUBS = ("trap_stub_14", "trap_stub_ret_14")


def nmi_at(breakpoint, step=False):
    """Runner action: when the kernel asks for the debugger, stop the CPU at `breakpoint` (a
    symbol, a function that returns an address, or a tuple of symbols: the first reached),
    stepping one instruction further with step=True, inject an NMI there, and let it go."""

    def action(run):
        log, qmp, deadline = run.log, run.qmp, run.deadline
        wait_for(log, r"# debugger:", deadline)
        gdb = Gdb(run.gdb_path, deadline)
        if callable(breakpoint):
            addresses = [breakpoint()]
        else:
            names = breakpoint if isinstance(breakpoint, tuple) else (breakpoint,)
            addresses = [symbol(name) for name in names]
        for address in addresses:
            if gdb.command(f"Z0,{address:x},1") != "OK":
                raise RuntimeError("the gdb stub refused the breakpoint")
        go = symbol("scenario_debugger_go")
        gdb.command(f"M{go:x},8:0100000000000000")
        stop = gdb.command("c")  # runs until the breakpoint
        if not stop.startswith("T05"):
            raise RuntimeError(f"unexpected stop reply {stop!r}")
        for address in addresses:
            gdb.command(f"z0,{address:x},1")
        if step:
            gdb.step()
        reply = qmp.command("inject-nmi")
        if "error" in reply:
            raise RuntimeError(f"inject-nmi failed: {reply}")
        gdb.command("D", wait_reply=False)  # detach: the CPU runs on and takes the NMI right there

    return action


RFLAGS_PF, RFLAGS_DF = 1 << 2, 1 << 10


def run_until(gdb, run, stop, ready):
    """Lets the CPU run to the breakpoint `stop` until ready(gdb) says this is the moment, and
    leaves it stopped there, the breakpoint removed."""
    if gdb.command(f"Z0,{stop:x},1") != "OK":
        raise RuntimeError("the gdb stub refused the breakpoint")
    while True:
        reply = gdb.command("c")
        if not reply.startswith("T05"):
            raise RuntimeError(f"unexpected stop reply {reply!r}")
        if ready(gdb):
            break
        if time.time() > run.deadline:
            raise TimeoutError(f"the CPU never reached {symbol_name(stop)} at the right moment")
        gdb.command(f"z0,{stop:x},1")  # QEMU would stop on it again at once: step over it
        gdb.step()
        gdb.command(f"Z0,{stop:x},1")
    gdb.command(f"z0,{stop:x},1")


def nmi_episodes(episodes):
    """Runner action for scenarios that place one NMI per episode: each episode is (stop, ready,
    steps, pf, what). The CPU runs to the breakpoint `stop` until ready(gdb) says this is the
    episode's moment, steps `steps` instructions further, gets PF set or cleared (pf: None, 0 or
    1; PF only shows whether a check reads the right flag), and an NMI is injected there. What
    was done last is kept in run.note, for the report when the kernel hangs after it."""

    def action(run):
        wait_for(run.log, r"# debugger:", run.deadline)
        gdb = Gdb(run.gdb_path, run.deadline)
        gdb.command(
            f"M{symbol('scenario_debugger_go'):x},8:{len(episodes).to_bytes(8, 'little').hex()}"
        )
        for stop, ready, steps, pf, what in episodes:
            run_until(gdb, run, stop, ready)
            for _ in range(steps):
                gdb.step()
            if pf is not None:
                flags = gdb.register(Gdb.RFLAGS)
                gdb.set_rflags(flags | RFLAGS_PF if pf else flags & ~RFLAGS_PF)
            run.note = f"the last NMI was injected {what}"
            if pf is not None:
                run.note += f", PF {'set' if pf else 'clear'}"
            reply = run.qmp.command("inject-nmi")
            if "error" in reply:
                raise RuntimeError(f"inject-nmi failed: {reply}")
        gdb.command("D", wait_reply=False)

    return action


def lazy(make_episodes):
    """An action whose episodes are computed when it runs (they need the kernel's symbols)."""
    return lambda run: nmi_episodes(make_episodes())(run)


def stopped_first_at(run, breakpoint):
    """From power-on, lets the CPU run to the first time it reaches `breakpoint` and leaves it
    stopped there, the breakpoint removed; returns the debugger connection."""
    gdb = Gdb(run.gdb_path, run.deadline)
    address = symbol(breakpoint)
    if gdb.command(f"Z0,{address:x},1") != "OK":
        raise RuntimeError("the gdb stub refused the breakpoint")
    stop = gdb.command("c")
    if not stop.startswith("T05"):
        raise RuntimeError(f"unexpected stop reply {stop!r}")
    gdb.command(f"z0,{address:x},1")
    return gdb


def nmi_at_boot(breakpoint, storm_until=None):
    """Runner action: from power-on, stop the CPU the first time it reaches `breakpoint` during
    boot, inject an NMI there, and let it go; with storm_until, go on injecting NMIs every
    millisecond until the kernel prints that."""

    def action(run):
        gdb = stopped_first_at(run, breakpoint)
        reply = run.qmp.command("inject-nmi")
        if "error" in reply:
            raise RuntimeError(f"inject-nmi failed: {reply}")
        gdb.command("D", wait_reply=False)
        if storm_until:
            inject_nmis(r"", until=storm_until, gap=0.001)(run)

    return action


def typed_before_serial_init(run):
    """Runner action: bytes arrive on the serial line while the kernel boots (someone typing, a
    console server), just before serial_init tests the UART by echoing a byte in loopback: they
    must not answer for it and leave the console silent."""
    gdb = stopped_first_at(run, "serial_init")
    run.serial.sendall(b"zq")
    time.sleep(0.3)
    gdb.command("D", wait_reply=False)


def inject_nmis(start, count=None, until=None, gap=0.1):
    """Runner action: once `start` appears in the log, inject NMIs through QMP: `count` of them,
    or until `until` appears."""

    def action(run):
        log, qmp, deadline = run.log, run.qmp, run.deadline
        wait_for(log, start, deadline)
        sent = 0
        # (the storm's own "unknown NMI" lines can split the line waited for)
        # QEMU exits once the kernel is done, maybe while the last injection waits for its reply
        reached = lambda: re.search(until or r"\n(not )?ok 1 - ", UNKNOWN_NMI.sub("", log()))
        while (count is None or sent < count) and time.time() < deadline:
            if reached():
                break
            try:
                qmp.command("inject-nmi")
            except (ConnectionError, OSError):
                if reached():
                    break  # the kernel got there and finished between two NMIs: QEMU has exited
                raise
            sent += 1
            time.sleep(gap)

    return action


def prompt_count(log):
    """The shell's prompts so far. An NMI's line can land inside the prompt's own output (the
    handler prints on the same CPU, between "nmilab>" and its space), so those lines go first."""
    return UNKNOWN_NMI.sub("", log).count("nmilab> ")


def type_lines(lines):
    """Runner action: a person at the serial console, typing each line at the shell's prompt."""

    def action(run):
        wait_for(run.log, r"nmilab> ", run.deadline)
        sock = run.serial
        for line in lines:
            prompts = prompt_count(run.log())
            for chunk in (
                line[i : i + 32] for i in range(0, len(line), 32)
            ):  # a UART has a small FIFO
                sock.sendall(chunk.encode())
                time.sleep(0.02)
            sock.sendall(b"\r")
            if line.startswith(("poweroff", "reboot", "lockup")):
                break
            while prompt_count(run.log()) <= prompts:
                if time.time() > run.deadline:
                    raise TimeoutError(f"no prompt after typing {line[:40]!r}")
                time.sleep(0.02)

    return action


def storm_while_typing(lines, wait=3.0):
    """Runner action: external NMIs every 10 ms (QMP inject-nmi) while the lines are typed, then
    `wait` seconds of the storm alone, then the last line ('lockup')."""

    def action(run):
        stop = threading.Event()

        def storm():
            while not stop.is_set() and time.time() < run.deadline:
                run.qmp.command("inject-nmi")
                time.sleep(0.01)

        wait_for(run.log, r"nmilab> ", run.deadline)
        storm_thread = threading.Thread(target=storm, daemon=True)
        storm_thread.start()
        try:
            type_lines(lines[:-1])(run)
            time.sleep(wait)
        finally:
            stop.set()
            storm_thread.join()
        type_lines(lines[-1:])(run)

    return action


def press_keys(text):
    """Runner action: the same on the PS/2 keyboard, through QMP send-key (one key at a time)."""
    names = {" ": "spc", "\n": "ret", "-": "minus"}

    def action(run):
        wait_for(run.log, r"nmilab> ", run.deadline)
        for c in text:
            key = names.get(c, c)
            keys = [{"type": "qcode", "data": "shift"}] if c.isupper() else []
            keys.append({"type": "qcode", "data": key.lower()})
            reply = run.qmp.command("send-key", keys=keys)
            if "error" in reply:
                raise RuntimeError(f"send-key {key}: {reply['error']}")
            time.sleep(0.03)

    return action


def external_nmi_at_prompt(then_type):
    """Runner action: an NMI from outside while the shell waits, then type then_type."""

    def action(run):
        wait_for(run.log, r"nmilab> ", run.deadline)
        run.qmp.command("inject-nmi")
        wait_for(run.log, r"NMI: unknown NMI", run.deadline)
        for line in then_type:
            run.serial.sendall(line.encode() + b"\r")
            time.sleep(0.5)

    return action
