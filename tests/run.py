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
"""
import argparse
import concurrent.futures
import contextlib
import glob
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
LOGS = os.path.join(BUILD, "test-logs")
ISOS = os.path.join(BUILD, "test-isos")
KERNEL = os.path.join(BUILD, "kernel.elf")
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
BOCHS = os.environ.get("BOCHS", "bochs")
QEMU_EXIT_PASS, QEMU_EXIT_FAIL = 33, 35


def first_existing(*paths):
    return next((p for p in paths if os.path.exists(p)), None)


OVMF_CODE = first_existing("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/ovmf/OVMF.fd")
OVMF_VARS = first_existing("/usr/share/OVMF/OVMF_VARS_4M.fd", "/usr/share/OVMF/OVMF_VARS.fd")


class Scenario:
    """One QEMU boot and what it must show.

    expect='pass': QEMU exits 33 and the log has 'ok N - name' lines and no 'not ok'.
    expect='panic': QEMU exits 35 and the log has a PANIC: report.
    expect='hang': the kernel stops on purpose (no exit); the run ends once `done` is printed.
    expect='poweroff': the shell was told to power off: QEMU exits 33 without a panic.
    must / must_not: regular expressions the serial log must (not) contain.
    """

    def __init__(self, name, cmdline, firmware="bios", expect="pass", must=(), must_not=(), qemu_args=(),
                 done=None, timeout=None, action=None, serial_input=False, debug_exit=True, check=None, settle=0.2,
                 hint=None, menu_seconds=0, gfxpayload=""):
        self.name, self.cmdline, self.firmware, self.expect = name, cmdline, firmware, expect
        self.serial_input, self.debug_exit, self.check = serial_input, debug_exit, check
        self.settle, self.hint = settle, hint  # seconds to watch after `done`; what a failure means
        self.menu_seconds = menu_seconds  # GRUB's menu timeout: for tests that pick an entry
        self.gfxpayload = gfxpayload  # the screen size GRUB sets under UEFI (make GFXPAYLOAD=...)
        self.must, self.must_not, self.qemu_args, self.done, self.action = must, must_not, qemu_args, done, action
        self.timeout = timeout or {"bios": 30, "bochs": 60}.get(firmware.split()[0], 90)

    @property
    def id(self):
        return f"{self.name} [{self.firmware}]"


BACKTRACE = r"backtrace:\n\s+#0\s+[0-9a-f]{16} \w+\+0x[0-9a-f]+\n\s+#1\s+[0-9a-f]{16} \w+\+0x"
REGISTERS = r"RAX [0-9a-f]{16}.*\n(.*\n){4}\s+RIP [0-9a-f]{16}\s+RSP [0-9a-f]{16}"

SCENARIOS = [
    Scenario("boot", "test=boot", "bios", must=[r"screen vga text 80x25", r"memory map: \d+ regions"]),
    Scenario("boot", "test=boot", "uefi", must=[r"screen framebuffer \d+x\d+x(24|32)"]),
    Scenario("boot", "test=boot", "usb", must=[r"screen framebuffer \d+x\d+x(24|32)"]),
    Scenario("nofault", "test=nofault", "bios"),
    Scenario("cmdline-errors", "test=boot bogus=1 test", "bios",
             must=[r"cmdline: 'bogus' is not a known option \(ignored\)", r"cmdline: option 'test' needs a value"]),
    Scenario("panic-fault", "test=panic-fault", "bios", expect="panic",
             must=[r"PANIC: page fault \(#PF\) at 0000100000000000: not-present page on write in kernel mode",
                   REGISTERS, r"CR2 0000100000000000", BACKTRACE, r"write_to_unmapped_memory\+0x",
                   r"scenario_run\+0x", r"kernel_main\+0x"]),
    Scenario("panic-ist-overflow", "test=panic-ist-overflow", "bios", expect="panic",
             must=[r"PANIC: double fault \(#DF\), on its own IST stack: stack overflow, CR2 [0-9a-f]{16} is in the "
                   r"guard page below the #DB IST stack", REGISTERS, BACKTRACE, r"recurse\+0x",
                   r"overflow_debug_stack\+0x"]),
    Scenario("panic-task-overflow", "test=panic-task-overflow", "bios", expect="panic",
             must=[r"PANIC: double fault \(#DF\), on its own IST stack: stack overflow, CR2 [0-9a-f]{16} is in the "
                   r"guard page below the task 2 stack", REGISTERS, BACKTRACE, r"recurse\+0x"]),
    Scenario("no-long-mode", "test=boot", "bios", expect="hang", qemu_args=["-cpu", "qemu64,-lm"],
             done=r"nmilab: this CPU has no long mode", must=[r"nmilab: this CPU has no long mode \(64-bit\)"],
             must_not=[r"TAP version"]),
    Scenario("nmi-pf-nested", "test=nmi-pf-nested", "uefi", must=[r"entries 2 nested 1 passes 2 extra passes 1"]),
    Scenario("self-test", "test=all", "bios", qemu_args=("-smp", "2"),
             must=[r"ok 1 - boot\n", r"ok 2 - nofault\n", r"ok 3 - nmi-pf-nested\n", r"ok 7 - kprobe-nmi\n",
                   r"ok 8 - kprobe-refuse\n", r"ok 9 - user-mode\n", r"ok 10 - user-security\n", r"ok 11 - smp-boot\n",
                   r"1\.\.11\n", r"# all passed", r"self-test summary\n  scenario +result\n  boot +ok\n  nofault +ok\n"
                   r"(  [\w-]+ +ok\n){5}  kprobe-refuse +ok\n  user-mode +ok\n  user-security +ok\n  smp-boot +ok\n"]),
    Scenario("bad-watchdog-options", "test=boot watchdog=abc console_delay=x", "bios",
             must=[r"watchdog: bad value 'abc' \(use watchdog=off or a number of seconds from 1 to 60\); using 2",
                   r"console_delay: bad value 'x' \(microseconds per byte, 0 to 100000\); ignored",
                   r"watchdog: hard-lockup detector on, threshold 2 s, NMI source: PIT IRQ 0"]),
    Scenario("watchdog-dump", "test=watchdog-dump", "uefi",
             must=[r"hard LOCKUP on CPU 0", r"show_state: 6 tasks dumped"]),
    Scenario("vmalloc-1000", "test=vmalloc-1000", "bios",
             must=[r"(vmalloc: a page at 0xffffff0000000000; written from a page table made before the area existed: "
                   r"1 fault\(s\) synced the top-level entry\n){1000}"]),
    Scenario("kprobe-refuse", "test=kprobe-refuse", "bios",
             must=[r"kprobe: trap_dispatch is on the int3, page-fault or NMI entry path \(or in kprobes itself\): "
                   r"a probe there would recurse; refused", r"kprobe: kprobe_hit is on the", r"kprobe: breakpoint is on",
                   r"kprobe: nmi_nested_handle is on", r"# kprobe-refuse: [1-9]\d+ functions refused"]),
    # The command line reaches the kernel byte for byte, whatever shell, sed and GRUB make of
    # these characters; one longer than the kernel keeps is reported, not silently cut.
    Scenario("cmdline-characters", "test=boot x=a&b|c$d;e  y=1", "bios",
             must=[r"cmdline: test=boot x=a&b\|c\$d;e y=1\n"]),
    Scenario("cmdline-too-long", "test=boot" + " nmi=nested" * 30, "bios",
             must=[r"cmdline: truncated to 255 bytes \(GRUB passed 339\); options after that are lost"]),
    Scenario("bad-nmi-option", "test=boot nmi=bogus", "bios",
             must=[r"nmi: unknown strategy 'bogus' \(use nmi=nested, naive, naive-raw or latch\); using nested",
                   r"nmi: strategy nested"]),
    Scenario("unknown-scenario", "test=no-such-thing", "bios", expect="fail",
             must=[r"not ok 1 - no-such-thing # unknown scenario"]),
]


UNKNOWN_NMI = re.compile(r"NMI: unknown NMI \(#\d+\) at [0-9a-f]+: no handler claimed it and port 0x61 shows no reason\n")
OVERWRITE = r"NMI frame overwritten by nested NMI: the NMI at depth 0 expected RIP [0-9a-f]{16} RSP [0-9a-f]{16}, " \
            r"found RIP [0-9a-f]{16} RSP [0-9a-f]{16}"


def nmi_scenarios():
    """Each NMI scenario under each strategy, with what that strategy must do."""
    out = []
    for strategy in ("nested", "latch", "naive"):
        def add(name, expect="pass", must=(), must_not=(), action=None, timeout=None, hint=None):
            out.append(Scenario(f"{name} nmi={strategy}", f"test={name} nmi={strategy}", "bios", expect=expect,
                                must=[r"nmi: strategy " + strategy, *must], must_not=must_not, action=action,
                                timeout=timeout, hint=hint))
        for name in ("nmi-pf-nested", "nmi-int3-nested"):
            if strategy == "naive":  # the broken entry: the check must catch the overwrite
                # and the backtrace must name where the nested NMI landed and stop where the
                # overwritten frame chain loops (docs/nmi.md, "nmi=naive")
                landed = "exception_fixups" if name == "nmi-pf-nested" else "scenario_int3"
                add(name, expect="panic", must=[OVERWRITE, rf"#3\s+[0-9a-f]{{16}} {landed}\+0x[0-9a-f]+ \(interrupted here\)",
                                                r"the chain loops, the stack was overwritten\)\nsystem halted"])
            else:
                add(name, must=[r"entries 2 nested 1 passes 2 extra passes 1"])
        for name, action in (("nmi-repeat-window", nmi_at("nmi_exit_iretq", step=True)),
                             ("nmi-iret-window", nmi_at("nmi_exit_iretq"))):
            if strategy == "nested":
                add(name, action=action)
            else:
                add(name, must=[rf"ok 1 - {name} # SKIP the repeat and exit windows exist only in nmi=nested"])
        if strategy == "nested":  # the lab 4 grade: every instruction of both windows
            add("nmi-repeat-window-all", action=lazy(repeat_window_episodes),
                hint="rule (a) must come first: in the repeat window 'NMI executing' is already 1 and the iret frame "
                     "half copied",
                must=[r"(# repeat window: an NMI at repeat_nmi\+0x[0-9a-f]+ was taken by rule \(a\) the repeat window\n"
                      r"[\s\S]*){6}"])
            add("nmi-exit-window-all", action=lazy(exit_window_episodes),
                hint="rule (c) must recognise an NMI on the final iretq by DF (RFLAGS bit 10, in its second byte) "
                     "and an RSP in the NMI stack",
                must=[r"(# exit window: an NMI at nmi_exit_iretq-0x[0-9a-f]+ was taken by rule \(b\) NMI executing\n"
                      r"[\s\S]*){4}(# exit window: an NMI at nmi_exit_iretq was taken by rule \(c\)[^\n]*\n"
                      r"[\s\S]*){2}"])
            add("nmi-first-on-nmi-stack", action=lazy(nmi_stack_episodes),
                hint="rule (c) must test DF as well as RSP: code may run with RSP in the NMI stack (CVE-2015-3291), "
                     "and a first NMI there must not be lost",
                must=[r"(handled as a first NMI\n[\s\S]*){2}"])
        add("nmi-cr2", action=nmi_at("trap_stub_14"))
        if strategy == "naive":  # naive-raw is the hardware alone: no report, a silent hang (watched for 3 s)
            out.append(Scenario("nmi-pf-nested nmi=naive-raw", "test=nmi-pf-nested nmi=naive-raw", "bios", expect="hang",
                                done=r"# scenario nmi-pf-nested", settle=3, must=[r"nmi: strategy naive-raw"],
                                must_not=[r"NMI frame overwritten", r"PANIC"],
                                hint="nmi=naive-raw has no overwrite check: it must hang silently"))
        if strategy == "naive":  # a nested NMI after the depth is back at 0: reported, not a silent hang
            add("nmi-naive-late", expect="panic", action=nmi_at("nmi_entry_naive.returned"), must=[OVERWRITE])
        if strategy == "naive":  # the stories: the overwrite is caught, and the dump is cut short
            add("watchdog-dump", expect="panic", must=[r"hard LOCKUP on CPU 0", OVERWRITE],
                must_not=[r"show_state: \d+ tasks dumped"])
            for name in ("vmalloc-nmi", "module-nmi", "kprobe-nmi"):
                add(name, expect="panic", must=[OVERWRITE])
        else:
            add("watchdog-dump", must=[
                r"watchdog: hard-lockup detector on, threshold 1 s, NMI source: PIT IRQ 0 through the 8259 PIC",
                r"hard LOCKUP on CPU 0: the timer tick has not advanced for 1 s", REGISTERS,
                r"backtrace:\n\s+#0\s+[0-9a-f]{16} lock_up_this_cpu\+0x", r"task 5 broken-frames \(blocked\)",
                r"\(frame pointer 0000100000000000 is not readable: the walk stops here\)\nshow_state: 6 tasks dumped",
                r"watchdog: [1-9]\d* NMIs arrived nested during the dump"])
            add("vmalloc-nmi", must=[r"trace ring at 0xffffff0000000000: 2 entries, 7ace0001 7ace0002"])
            add("module-nmi", must=[r"module code at 0xffffff0000000000 ran 2 times"])
            add("kprobe-nmi", must=[r"kprobe: there is no kernel function named 'no_such_function'",
                                    r"kprobe on nmi_probe_target at [0-9a-f]+: 2 hits in NMI context"])
        add("nmi-external", action=inject_nmis(r"# external: waiting", count=5))
        if strategy != "naive":
            add("nmi-storm", action=inject_nmis(r"# storm: start", until=r"# storm: end", gap=0.01), timeout=120)
    return out


def user_syscall_episodes():
    """An NMI on every instruction of the SYSCALL entry and return, syscall_entry to syscall_sysretq,
    while the user program that runs them keeps RSP in the NMI stack (CVE-2015-3291)."""
    path = instructions("syscall_entry", "syscall_sysretq") + [symbol("syscall_sysretq")]
    return [(address, lambda gdb: True, 0, None, f"at {symbol_name(address)} (the SYSCALL path, a user RSP "
                                                 "in the NMI stack on its first and last three instructions)")
            for address in path]


def user_nmi_exit_episodes():
    """Pairs: an NMI in the user program's work loop, then one on an instruction of nmi_from_user
    after its C call (the first NMI's handler has faulted: NMIs are unblocked), for each one."""
    spin = 0x0000008000000000 + symbol("syscall_loop.spin") - symbol("user_programs_start")
    path = instructions("nmi_from_user", "nmi_user_iretq") + [symbol("nmi_user_iretq")]
    names = mnemonics(KERNEL)
    after_call = path[next(i for i, a in enumerate(path) if names[a] == "call") + 1:]
    episodes = []
    for address in after_call:
        episodes.append((spin, lambda gdb: True, 0, None, "in the user program's work loop"))
        episodes.append((address, lambda gdb: True, 0, None, f"at {symbol_name(address)} (nmi_from_user's way out)"))
    return episodes


USER_KILLED = r"user: task \d \({}\) killed: {}, error code 0x{}, at RIP [0-9a-f]{{16}}"


def user_scenarios():
    """User mode, its security, and the NMIs of the 2015 bugs; user mode is refused elsewhere than
    nmi=nested."""
    out = []

    def add(name, firmware="bios", **options):
        out.append(Scenario(name, f"test={name}", firmware, **options))

    add("user-mode", must=[r"user: SYSCALL entry ready", r"hello from user mode\nuser: task \d \(hello\) exited with "
                           r"status 0 after 2 system calls", r"\(syscall-loop\) exited with status 0 after 501 system calls"])
    security = [USER_KILLED.format("read", r"page fault \(#PF\)", "5") + ", address ffffffff80100000",
                USER_KILLED.format("read", r"page fault \(#PF\)", "5") + ", address ffffffff8[0-9a-f]{7}\n",  # NMI stack
                USER_KILLED.format("read", r"page fault \(#PF\)", "5") + ", address 0000000000100000",
                USER_KILLED.format("write", r"page fault \(#PF\)", "7"), USER_KILLED.format("read-idt", r"page fault \(#PF\)", "5"),
                *(USER_KILLED.format(name, r"general protection \(#GP\)", "0") for name in ("cli", "hlt", "read-cr3", "wrmsr", "out")),
                r"bad-syscalls: every bad call refused\nuser: task \d \(bad-syscalls\) exited with status 0"]
    add("user-security", must=security)
    out.append(Scenario("user-security smep", "test=user-security", "bios", qemu_args=["-cpu", "max"],
                        must=[r"user: SYSCALL entry ready; SMEP on, SMAP on", *security]))
    add("user-fuzz", must=[r"(\(fuzz\) exited with status 0 after 3001 system calls\n[\s\S]*){3}"])
    add("user-noncanonical-return", must=[r"user: task \d \(noncanonical\) killed: (its return to user mode faulted: )?"
                                          r"general protection \(#GP\)", r"# the return to a non-canonical RIP went by iretq"])
    add("user-rsp-in-nmi-stack", action=lazy(user_syscall_episodes),
        must=[r"(# an NMI at syscall_entry\+0x[0-9a-f]+ was handled as a first NMI( \(syscall_sysretq\))?\n){40,}",
              r"# an NMI at syscall_entry\+0x0 was handled", r"first NMI \(syscall_sysretq\)\n"],
        hint="rule (c) must test DF as well as RSP: SYSCALL leaves RSP as user space set it (CVE-2015-3291)")
    add("user-nmi-exit-all", action=lazy(user_nmi_exit_episodes), timeout=60,
        must=[r"(# an NMI at nmi_from_user\+0x[0-9a-f]+, on the way back to user mode, was handled\n[\s\S]*){15,}",
              r"\(syscall-loop\) exited with status 0"])
    add("user-nmi-fault-return", action=inject_nmis(r"# user-nmi-fault-return: the user code segment is not present", count=1),
        must=[r"user: the return to user mode \(to RIP 0000008[0-9a-f]{9}\) faulted in the kernel, on the task's kernel stack",
              USER_KILLED.format("cs-not-present", r"its return to user mode faulted: segment not present \(#NP\)", "20")],
        hint="an NMI from user mode must move to the task's kernel stack, and an NMI nested in it must be latched "
             "(CVE-2015-5157)")
    add("user-nmi-cr2", action=nmi_at("trap_stub_14"),
        must=[USER_KILLED.format("read", r"page fault \(#PF\)", "5") + ", address ffffffff80100000"],
        hint="the NMI handler must put back the CR2 that the user's page fault has not read yet")
    add("user-nmi-storm", action=inject_nmis(r"# user storm: start", until=r"# user storm: end", gap=0.01), timeout=120,
        must=[r"(\(syscall-loop\) exited with status 0 after 401 system calls\n[\s\S]*){3}",
              r"# user storm: [1-9]\d* NMIs from user mode"], must_not=[r"user: task \d \(syscall-loop\) killed"])
    out.append(Scenario("user-mode nmi=latch", "test=user-mode nmi=latch", "bios",
                        must=[r"ok 1 - user-mode # SKIP user mode needs nmi=nested"]))
    return out


# NMI_BREAK switches that put back what Linux had before 2015: under each, the scenario that shows
# the bug must fail, with the bug's own symptom in its log.
HISTORICAL = [
    ("df-test", "user-rsp-in-nmi-stack", r"[1-9] NMIs on the SYSCALL path taken for nested \(rule \(c\) the exit "
                                         r"window\) and lost\n# the last one lost: at syscall_entry\+0x[0-9a-f]+, RSP "
                                         r"ffffffff8[0-9a-f]+"),
    ("user-stack-switch", "user-nmi-fault-return", r"PANIC: unhandled segment not present \(#NP\), error code 0x20\n"
                                                   r"(.*\n){7}  \(RSP is on the NMI IST stack\)\n[\s\S]*nmi_exit_iretq\+0x0"),
]


@contextlib.contextmanager
def tree_with_break(name):
    """A copy of this tree (its object files too) with the NMI_BREAK=name kernel built in it, for
    make test's historical checks and make verify's mutants. Yields (tree, why it did not build)."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import labs
    tree = tempfile.mkdtemp(prefix=f"nmilab-{name}-")
    try:
        labs.write_tree(tree, with_objects=True)
        build = subprocess.run(["make", "-s", "-C", tree, f"NMI_BREAK={name}", "build/kernel.elf"],
                               capture_output=True, text=True)
        yield tree, build.returncode and f"NMI_BREAK={name}: does not build: {build.stderr.strip()[-200:]}"
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def historical_checks():
    """Builds each historical NMI_BREAK kernel in a copy of this tree and runs its scenario there.
    Yields (ok, lines)."""
    for name, scenario, symptom in HISTORICAL:
        with tree_with_break(name) as (tree, failure):
            if failure:
                yield False, [failure]
                continue
            result = subprocess.run([sys.executable, os.path.join(tree, "tests", "run.py"), scenario],
                                    capture_output=True, text=True)
            logs = glob.glob(os.path.join(tree, "build", "test-logs", f"{scenario}*.log"))
            found = re.search(symptom, read(logs[0]) if logs else "")
            ok = result.returncode != 0 and found is not None
            shown = [line.strip() for line in found.group(0).splitlines() if re.search("PANIC|RSP is on|#0|lost", line)] \
                if found else [result.stdout.strip()[-300:]]
            yield ok, [f"NMI_BREAK={name}: {scenario} " + ("fails with the historical bug, as it must" if ok else
                                                           "does NOT fail as the historical kernel did"), *shown]


def iso_for(cmdline, menu_seconds=0, gfxpayload=""):
    """The test ISO for a command line (GRUB menu timeout 0, or menu_seconds for a test that picks
    an entry in the menu; gfxpayload: the UEFI screen size), built once and cached by content."""
    with open(KERNEL, "rb") as f:
        digest = hashlib.sha256(f.read() + cmdline.encode() + open(os.path.join(ROOT, "grub.cfg"), "rb").read()
                                + f"{menu_seconds} {gfxpayload}".encode())
    path = os.path.join(ISOS, digest.hexdigest()[:16] + ".iso")
    if not os.path.exists(path):
        subprocess.run([os.path.join(ROOT, "tools", "mkiso.sh"), KERNEL, path + ".tmp", cmdline, str(menu_seconds)],
                       check=True, env=dict(os.environ, GFXPAYLOAD=gfxpayload))
        os.replace(path + ".tmp", path)
    return path


# sound: driver=dummy because on a machine without a sound card Debian's Bochs 2.7 aborts in its
# ALSA plugin ("buffer overflow detected") before the BIOS runs.
BOCHS_CONFIG = """megs: 256
cpu: model={cpu}, count={count}, ips=50000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path={iso}, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev={serial}
display_library: rfb, options="timeout=0"
log: {log}
panic: action=fatal
error: action=report
mouse: enabled=0
sound: driver=dummy
clock: sync=none, time0=local
"""


def bochs_command(s, scratch, log_path):
    """Bochs with no window (its RFB display, not waiting for a viewer), COM1 to the log, and the
    debugger that Debian's build starts in told to continue."""
    cpu, count = s.firmware.split()[1], 2 if s.firmware.endswith(" smp") else 1
    config, commands = os.path.join(scratch, "bochsrc"), os.path.join(scratch, "commands")
    with open(config, "w") as f:
        f.write(BOCHS_CONFIG.format(cpu=cpu, count=count, iso=iso_for(s.cmdline), serial=log_path,
                                    log=os.path.join(scratch, "bochs.log")))
    with open(commands, "w") as f:
        f.write("continue\nquit\n")
    return [BOCHS, "-q", "-f", config, "-rc", commands]


def bochs_status(scratch, log):
    """What QEMU's exit status would have said: pass or fail after an ACPI soft-off (read from the
    TAP summary), fail after a panic that halted; None while Bochs runs on."""
    bochs_log = read(os.path.join(scratch, "bochs.log"))
    if "ACPI control: soft power off" in bochs_log:
        return QEMU_EXIT_PASS if "# all passed" in log else QEMU_EXIT_FAIL
    if "resetting" in bochs_log:  # a triple fault: Bochs resets the machine, as a PC would
        return 0
    if re.search(r"PANIC:[\s\S]*system halted", log):
        return QEMU_EXIT_FAIL
    return None


def firmware_args(firmware, iso, scratch):
    if firmware == "bios":
        return ["-cdrom", iso]
    vars_copy = os.path.join(scratch, "ovmf_vars.fd")
    shutil.copy(OVMF_VARS, vars_copy)
    args = ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={vars_copy}"]
    if firmware == "uefi":
        return args + ["-cdrom", iso]
    # "usb": the ISO written to a USB stick, as a user would with dd, on an xHCI controller.
    return args + ["-device", "qemu-xhci", "-drive", f"if=none,id=stick,format=raw,readonly=on,file={iso}",
                   "-device", "usb-storage,drive=stick"]


class Qmp:
    """QEMU's machine protocol, for what a person would do from outside (inject an NMI)."""

    def __init__(self, path, deadline):
        self.sock = connect_unix(path, deadline)
        self.sock.settimeout(max(1.0, deadline - time.time()))
        self.file = self.sock.makefile("rw")
        self.file.readline()  # greeting
        self.command("qmp_capabilities")

    def command(self, name, **arguments):
        import json
        self.file.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "return" in reply or "error" in reply:
                return reply


class Gdb:
    """A minimal client for QEMU's gdb stub: breakpoints that the guest cannot see, one step,
    one memory write. It stands in for a hardware debugger that stops the CPU at an exact
    instruction, so that an NMI injected from outside lands exactly there."""

    def __init__(self, path, deadline):
        self.sock = connect_unix(path, deadline)
        self.buffer = b""
        # QEMU stops the CPU when a debugger connects and may announce that with a stop packet
        # of its own: ask once, then throw away whatever came before the answer settles.
        self.command("?", wait_reply=False)
        self.sock.settimeout(0.3)
        try:
            while self.sock.recv(4096):
                pass
        except socket.timeout:
            pass
        self.sock.settimeout(max(1.0, deadline - time.time()))

    def _byte(self):
        if not self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("gdb stub closed the connection")
            self.buffer = chunk
        b, self.buffer = self.buffer[:1], self.buffer[1:]
        return b

    def _reply(self):
        while self._byte() != b"$":
            pass
        data = b""
        while (c := self._byte()) != b"#":
            data += c
        self._byte(), self._byte()  # checksum
        self.sock.sendall(b"+")
        return data.decode()

    def command(self, text, wait_reply=True):
        packet = text.encode()
        self.sock.sendall(b"$" + packet + b"#%02x" % (sum(packet) % 256))
        return self._reply() if wait_reply else None

    # Registers by gdb's x86-64 numbering; values travel as little-endian hex.
    RSP, RFLAGS = 7, 17

    def register(self, number):
        """From 'g' (all registers): 8 bytes each for the 16 general registers and RIP, then the
        32-bit RFLAGS."""
        size = 4 if number == self.RFLAGS else 8
        return int.from_bytes(bytes.fromhex(self.command("g")[number * 16:number * 16 + size * 2]), "little")

    def set_rflags(self, value):
        """Through 'G' (all registers): QEMU's stub does not write single registers. RFLAGS is the
        32-bit field after the 16 general registers and RIP."""
        registers = self.command("g")
        at = 17 * 8 * 2
        registers = registers[:at] + value.to_bytes(4, "little").hex() + registers[at + 8:]
        if self.command("G" + registers) != "OK":
            raise RuntimeError("the gdb stub refused to write the registers")

    def read64(self, address):
        return int.from_bytes(bytes.fromhex(self.command(f"m{address:x},8")), "little")


def symbol(name):
    out = subprocess.run(["nm", KERNEL], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise KeyError(name)


def nmi_at(breakpoint, step=False):
    """Runner action: when the kernel asks for the debugger, stop the CPU at `breakpoint`
    (stepping one instruction further with step=True), inject an NMI there, and let it go."""

    def action(run):
        log, qmp, deadline = run.log, run.qmp, run.deadline
        wait_for(log, r"# debugger:", deadline)
        gdb = Gdb(run.gdb_path, deadline)
        address = symbol(breakpoint)
        if gdb.command(f"Z0,{address:x},1") != "OK":
            raise RuntimeError("the gdb stub refused the breakpoint")
        go = symbol("scenario_debugger_go")
        gdb.command(f"M{go:x},8:0100000000000000")
        stop = gdb.command("c")  # runs until the breakpoint
        if not stop.startswith("T05"):
            raise RuntimeError(f"unexpected stop reply {stop!r}")
        gdb.command(f"z0,{address:x},1")
        if step:
            gdb.command("s")
        reply = qmp.command("inject-nmi")
        if "error" in reply:
            raise RuntimeError(f"inject-nmi failed: {reply}")
        gdb.command("D", wait_reply=False)  # detach: the CPU runs on and takes the NMI right there

    return action


def instructions(start, end):
    """The addresses of the kernel's instructions from symbol `start` up to symbol `end`."""
    low, high = symbol(start), symbol(end)
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--start-address={low}", f"--stop-address={high}",
                          KERNEL], capture_output=True, text=True, check=True).stdout
    return [int(m.group(1), 16) for m in re.finditer(r"^\s*([0-9a-f]+):\s", out, re.M)]


RFLAGS_PF, RFLAGS_DF = 1 << 2, 1 << 10


def nmi_episodes(episodes):
    """Runner action for scenarios that place one NMI per episode: each episode is (stop, ready,
    steps, pf, what). The CPU runs to the breakpoint `stop` until ready(gdb) says this is the
    episode's moment, steps `steps` instructions further, gets PF set or cleared (pf: None, 0 or
    1; PF only shows whether a check reads the right flag), and an NMI is injected there. What
    was done last is kept in run.note, for the report when the kernel hangs after it."""

    def action(run):
        wait_for(run.log, r"# debugger:", run.deadline)
        gdb = Gdb(run.gdb_path, run.deadline)
        gdb.command(f"M{symbol('scenario_debugger_go'):x},8:{len(episodes).to_bytes(8, 'little').hex()}")
        for stop, ready, steps, pf, what in episodes:
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
                gdb.command("s")
                gdb.command(f"Z0,{stop:x},1")
            gdb.command(f"z0,{stop:x},1")
            for _ in range(steps):
                gdb.command("s")
            if pf is not None:
                flags = gdb.register(Gdb.RFLAGS)
                gdb.set_rflags(flags | RFLAGS_PF if pf else flags & ~RFLAGS_PF)
            run.note = f"the last NMI was injected {what}" + ("" if pf is None else f", PF {'set' if pf else 'clear'}")
            reply = run.qmp.command("inject-nmi")
            if "error" in reply:
                raise RuntimeError(f"inject-nmi failed: {reply}")
        gdb.command("D", wait_reply=False)

    return action


def repeat_window_episodes():
    """An NMI on each instruction of the repeat window, reached by stepping from a final iretq
    whose frame points at repeat_nmi (a nested NMI has asked for a repeat)."""
    window, repeat, exit_iretq = instructions("repeat_nmi", "end_repeat_nmi"), symbol("repeat_nmi"), symbol("nmi_exit_iretq")
    asks_for_repeat = lambda gdb: gdb.read64(gdb.register(Gdb.RSP)) == repeat
    return [(exit_iretq, asks_for_repeat, k + 1, None, f"at repeat_nmi+{address - repeat:#x} (the repeat window)")
            for k, address in enumerate(window)]


def exit_window_episodes():
    """An NMI on each instruction from the exit path's std to the final iretq, in the first pass
    of an episode (the one whose fault unblocked NMIs), with PF set and clear."""
    exit_iretq = symbol("nmi_exit_iretq")
    code = instructions("end_repeat_nmi", "nmi_exit_iretq") + [exit_iretq]
    window = code[next(i for i in range(len(code)) if disassemble_one(code[i]) == "std"):]
    passes = symbol("provoke_passes")
    episodes = []
    for address in window:
        for pf in (1, 0):
            number = len(episodes)
            first_pass = lambda gdb, n=number: gdb.read64(passes) == 2 * n + 1
            episodes.append((address, first_pass, 0, pf, f"at nmi_exit_iretq{f'-{exit_iretq - address:#x}' if address != exit_iretq else ''} (the exit window)"))
    return episodes


def disassemble_one(address):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--start-address={address}",
                          f"--stop-address={address + 1}", KERNEL], capture_output=True, text=True, check=True).stdout
    return re.findall(r"^\s*[0-9a-f]+:\s+(\S+)", out, re.M)[-1]


def nmi_stack_episodes():
    """An NMI while code runs with RSP in the NMI stack and DF clear: PF set, then clear."""
    spin, claimed = symbol("nmi_stack_spin"), symbol("external_claimed")
    return [(spin, lambda gdb, n=n: gdb.read64(claimed) == n, 0, pf,
             "at nmi_stack_spin (RSP in the NMI stack, DF clear: a first NMI)") for n, pf in enumerate((1, 0))]


def lazy(make_episodes):
    """An action whose episodes are computed when it runs (they need the kernel's symbols)."""
    return lambda run: nmi_episodes(make_episodes())(run)


def nmi_at_boot(breakpoint, storm_until=None):
    """Runner action: from power-on, stop the CPU the first time it reaches `breakpoint` during
    boot, inject an NMI there, and let it go; with storm_until, go on injecting NMIs every
    millisecond until the kernel prints that."""

    def action(run):
        gdb = Gdb(run.gdb_path, run.deadline)
        address = symbol(breakpoint)
        if gdb.command(f"Z0,{address:x},1") != "OK":
            raise RuntimeError("the gdb stub refused the breakpoint")
        stop = gdb.command("c")
        if not stop.startswith("T05"):
            raise RuntimeError(f"unexpected stop reply {stop!r}")
        gdb.command(f"z0,{address:x},1")
        reply = run.qmp.command("inject-nmi")
        if "error" in reply:
            raise RuntimeError(f"inject-nmi failed: {reply}")
        gdb.command("D", wait_reply=False)
        if storm_until:
            inject_nmis(r"", until=storm_until, gap=0.001)(run)

    return action


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
            for chunk in (line[i:i + 32] for i in range(0, len(line), 32)):  # a UART has a small FIFO
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


def tsc_mhz(log):
    m = re.search(r"timer: TSC (\d+) MHz", UNKNOWN_NMI.sub("", log))
    return int(m.group(1)) if m else None


def same_tsc_as_a_calm_boot(log):
    """Scenario check: the TSC rate measured under an NMI storm is the one a calm boot measures
    (within 15%; under TCG the guest's TSC is the host's)."""
    stormy = tsc_mhz(log)
    _, _, _, calm_log = run_scenario(Scenario("calm", "test=boot", "bios"))
    calm = tsc_mhz(calm_log)
    if not stormy or not calm:
        return "no 'timer: TSC ... MHz' line"
    if abs(stormy - calm) > calm * 0.15:
        return f"TSC {stormy} MHz under the NMI storm, {calm} MHz in a calm boot"
    return None


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


def screendump(run):
    """A QMP screendump: (its file, width, height, the RGB bytes)."""
    picture = os.path.join(os.path.dirname(run.gdb_path), "screen.ppm")
    reply = run.qmp.command("screendump", filename=picture)
    if "error" in reply:
        raise RuntimeError(f"screendump: {reply['error']}")
    with open(picture, "rb") as f:
        data = f.read()
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    return picture, int(header.group(1)), int(header.group(2)), data[header.end():]


def screen_shows_text(then_type, font_scale=1):
    """Runner action: at the shell prompt, take a screenshot (QMP screendump) and check that the
    screen really has text on it -- light pixels in glyph-sized clusters on the dark background,
    glyphs font_scale times the font's 16 pixels tall -- then type then_type on serial. The
    picture is kept in build/test-logs/ to look at."""

    def action(run):
        wait_for(run.log, r"nmilab> ", run.deadline)
        time.sleep(0.5)
        picture, width, height, pixels = screendump(run)
        lit_rows = sum(1 for y in range(height)
                       if any(pixels[(y * width + x) * 3] > 128 for x in range(0, width, 2)))
        lit = sum(1 for i in range(0, len(pixels), 3) if pixels[i] > 128)
        if not (lit > 2000 and lit_rows > 100 and lit < width * height // 4):
            raise RuntimeError(f"the {width}x{height} screen does not look like text: {lit} light pixels on "
                               f"{lit_rows} rows")
        os.makedirs(LOGS, exist_ok=True)
        shutil.copy(picture, os.path.join(LOGS, f"screen-{width}x{height}.ppm"))
        # The tallest run of rows with light pixels: one line of text is at most a glyph tall.
        tallest = run_length = 0
        for y in range(height):
            lit_row = any(pixels[(y * width + x) * 3] > 128 for x in range(0, width, 2))
            run_length = run_length + 1 if lit_row else 0
            tallest = max(tallest, run_length)
        if not 12 * font_scale <= tallest <= 16 * font_scale:
            raise RuntimeError(f"the text on the {width}x{height} screen is {tallest} pixels tall, not a "
                               f"{font_scale}x font (at most {16 * font_scale})")
        run.serial.sendall(then_type.encode() + b"\r")

    return action


def grub_demo_entries():
    """The demo entries of grub.cfg's submenu, in order: (title, command line)."""
    with open(os.path.join(ROOT, "grub.cfg")) as f:
        text = f.read()
    submenu = text[text.index('submenu "nmilab demos'):]
    return re.findall(r'menuentry "([^"]+)" \{\s*multiboot2 /boot/kernel.elf ([^\n]*)', submenu)[:-1] \
        if text.count("submenu") == 1 else []


def pick_in_grub_menu(position):
    """Runner action: in GRUB's menu, go down to the demo submenu (the second entry), open it, go
    down to entry `position` and start it, with keys as a user would press them (QMP send-key to
    the PS/2 keyboard). With a screen check for naive: the overwrite report must be in the VGA text
    memory (BIOS), not only on serial."""

    def key(run, name):
        reply = run.qmp.command("send-key", keys=[{"type": "qcode", "data": name}])
        if "error" in reply:
            raise RuntimeError(f"send-key {name}: {reply['error']}")
        time.sleep(0.15)

    def action(run):
        wait_for(run.log, r"nmilab demos", run.deadline)  # the menu, also drawn on serial
        key(run, "down")
        key(run, "ret")
        wait_for(run.log, r"page fault in an NMI: nested", run.deadline)
        for _ in range(position):
            key(run, "down")
        key(run, "ret")

    return action


def font_glyphs():
    """The kernel's font (kernel/font.c) as {16 row bytes: character}."""
    with open(os.path.join(ROOT, "kernel", "font.c")) as f:
        rows = re.findall(r"\{((?:0x[0-9a-f]{2}, ){15}0x[0-9a-f]{2})\}", f.read())
    return {bytes(int(b, 16) for b in row.split(", ")): chr(32 + i) for i, row in enumerate(rows)}


def framebuffer_text(run):
    """The text on a framebuffer screen (UEFI), read back from a QMP screendump by matching each
    character cell against the kernel's own font, at 1x or 2x. Unknown cells read as '?'."""
    _, width, height, pixels = screendump(run)
    scale = 2 if width >= 1600 and height >= 900 else 1
    glyphs = font_glyphs()
    lines = []
    for row in range(height // (16 * scale)):
        line = ""
        for column in range(width // (8 * scale)):
            cell = bytes(sum(0x80 >> x for x in range(8) if pixels[(((row * 16 + y) * scale) * width
                                                                    + (column * 8 + x) * scale) * 3] > 128)
                         for y in range(16))
            line += glyphs.get(cell, "?")
        lines.append(line.rstrip())
    return "\n".join(lines)


def scroll_without_torn_glyphs(run):
    """Runner action: while the kernel prints line after line (test=screen-scroll), stop the
    machine now and then, take a screendump and read it back with the font: at most one cell (the
    one being drawn when it stopped) may be anything but a whole glyph. (Stopped, because QEMU
    copies the screen while the CPU goes on drawing otherwise.) At the end the last lines must be
    on the screen, in order."""
    wait_for(run.log, r"# scroll: start", run.deadline)
    dumps = 0
    while "# scroll: done" not in run.log() and time.time() < run.deadline:
        run.qmp.command("stop")
        torn = framebuffer_text(run).count("?")
        run.qmp.command("cont")
        dumps += 1
        time.sleep(0.1)  # let it scroll on between dumps
        if torn > 1:
            raise RuntimeError(f"screendump {dumps} while scrolling has {torn} cells that are not whole glyphs")
    if dumps < 3:
        raise RuntimeError(f"only {dumps} screendumps while the screen scrolled")
    last = [line for line in framebuffer_text(run).splitlines() if line.startswith("scroll line")][-3:]
    if last != [f"scroll line {i} of 300: the quick brown fox jumps over the lazy dog {i * 7}" for i in (298, 299, 300)]:
        raise RuntimeError(f"the screen ends with {last}, not lines 298-300")


def screen_text(run):
    """The characters of the 80x25 VGA text screen (BIOS boots keep it), from guest memory."""
    dump = os.path.join(os.path.dirname(run.gdb_path), "vga.bin")
    reply = run.qmp.command("pmemsave", val=0xb8000, size=4000, filename=dump)
    if "error" in reply:
        raise RuntimeError(f"pmemsave: {reply['error']}")
    with open(dump, "rb") as f:
        cells = f.read()
    return "\n".join(cells[row * 160:(row + 1) * 160:2].decode("latin-1") for row in range(25))


def demo_scenarios():
    """Each demo entry of grub.cfg, picked in the menu under BIOS and UEFI: it must reach its end
    (a naive one: the overwrite report, on the VGA screen too under BIOS)."""
    out = []
    for position, (title, cmdline) in enumerate(grub_demo_entries()):
        naive = "nmi=naive" in cmdline
        lockup = "watchdog-dump" in cmdline
        must = [r"=== demo "]
        if naive:
            must += [OVERWRITE, r"system halted"]
        elif lockup:
            must += [r"hard LOCKUP on CPU 0", r"show_state: \d+ tasks dumped"]
        else:
            must += [r"=== demo [\w-]+ done ===\nTo see another demo, restart the machine"]
        for firmware in ("bios", "uefi"):
            action = pick_in_grub_menu(position)
            if naive:  # the report must be on the screen, not only on serial
                def action(run, pick=action, read=screen_text if firmware == "bios" else framebuffer_text):
                    pick(run)
                    wait_for(run.log, r"system halted", run.deadline)
                    time.sleep(0.3)
                    screen = read(run)
                    if "NMI frame overwritten by nested NMI" not in screen:
                        raise RuntimeError("the overwrite report is not on the screen:\n" + screen)
            out.append(Scenario(f"grub demo '{title}'", "", firmware, expect="hang", menu_seconds=10,
                                done=r"system halted|show_state: \d+ tasks dumped|nmilab> ", settle=0.5, must=must,
                                must_not=[] if naive else [r"PANIC"], action=action, debug_exit=False,
                                timeout=60 if firmware == "bios" else 90))
    return out


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


def copy_to_file(sock, path):
    with open(path, "ab") as out:
        try:
            while chunk := sock.recv(4096):
                out.write(chunk)
                out.flush()
        except OSError:
            pass


def connect_unix(path, deadline):
    while True:
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(path)
            return sock
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def wait_for(log, pattern, deadline):
    while not re.search(pattern, log()):
        if time.time() > deadline:
            raise TimeoutError(f"the kernel never printed /{pattern}/")
        time.sleep(0.02)


class RunContext:
    """What an action gets: the serial log so far, QMP, the deadline, and the sockets."""

    def __init__(self, log, qmp, deadline, gdb_path, serial):
        self.log, self.qmp, self.deadline, self.gdb_path, self.serial = log, qmp, deadline, gdb_path, serial
        self.note = None  # what the action did last, for the report when the kernel then hangs


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\r", "")
    except FileNotFoundError:
        return ""


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
        serial = ["-chardev", f"socket,id=serial0,path={serial_path},server=on,wait=on", "-serial", "chardev:serial0"]
    bochs = s.firmware.startswith("bochs")
    if bochs:
        command = bochs_command(s, scratch, log_path)
    else:
        command = [QEMU, "-m", "256M", "-display", "none", "-no-reboot", *serial,
                   *(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"] if s.debug_exit else []),
                   "-qmp", f"unix:{qmp_path},server=on,wait=off",
                   *(["-gdb", f"unix:{gdb_path},server=on,wait=off"] if s.action else []),
                   *firmware_args(s.firmware, iso_for(s.cmdline, s.menu_seconds, s.gfxpayload), scratch),
                   *s.qemu_args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = start + s.timeout
    status, timed_out, context = None, False, None
    try:
        serial_socket = None
        if s.serial_input:  # everything the kernel sends goes to the log file, as with -serial file:
            serial_socket = connect_unix(serial_path, deadline)
            threading.Thread(target=copy_to_file, args=(serial_socket, log_path), daemon=True).start()
        if s.action:
            context = RunContext(lambda: read(log_path), Qmp(qmp_path, deadline), deadline, gdb_path, serial_socket)
            s.action(context)
        while status is None:
            status = process.poll()
            if bochs:  # Bochs' own exit status says nothing: read what happened from the logs
                exited, status = status, bochs_status(scratch, read(log_path))
                if status is None and exited is not None:
                    return finish(s, scratch, process, False, f"Bochs exited ({exited}) without powering off", start,
                                  log_path)
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
        reason = ("the kernel failed the scenario" if re.search(r"^not ok", log, re.M) else f"runner error: {error}")
        reason += where_it_stopped(log, qmp_path, bochs, context) + (f" ({s.hint})" if s.hint else "")
        return finish(s, scratch, process, False, reason, start, log_path)
    log = read(log_path)
    reason = judge(s, status, timed_out, log)
    if reason and timed_out:
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
            qmp = context.qmp if context else Qmp(qmp_path, time.time() + 2)  # QEMU takes one QMP client at a time
            qmp.sock.settimeout(2)
            reply = qmp.command("human-monitor-command", **{"command-line": "info registers"})
            rip = int(re.search(r"RIP=([0-9a-f]+)", reply.get("return", "")).group(1), 16)
            parts.append(f"the CPU is at {rip:016x} {symbol_name(rip)}")
        except Exception:  # QEMU gone or not answering: say nothing about the CPU
            pass
    return "; " + "; ".join(parts) if parts else ""


def function_symbols(kernel):
    """The kernel's text symbols, [(address, name)] by address. Like the kernel's own table
    (tools/mksyms.sh), a mark of linker.ld (noprobe_start, ...) gives way to a function at the
    same address."""
    with open(os.path.join(ROOT, "linker.ld")) as f:
        marks = set(re.findall(r"^\s*([a-z_]+) = \.\s*;", f.read(), re.M))
    out = subprocess.run(["nm", "-n", kernel], capture_output=True, text=True).stdout
    found = [(int(p[0], 16), p[2]) for p in (line.split() for line in out.splitlines()) if len(p) == 3 and p[1] in "tT"]
    functions = {a for a, name in found if name not in marks}
    return [(a, name) for a, name in found if name not in marks or a not in functions]


def name_in(symbols, address):
    """function+offset for an address from function_symbols(), or None."""
    best = None
    for start, name in symbols:
        if start > address:
            break
        best = (name, address - start)
    return f"{best[0]}+{best[1]:#x}" if best else None


def mnemonics(kernel):
    """address -> mnemonic of every instruction of the kernel (objdump)."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", kernel], capture_output=True, text=True).stdout
    return {int(m.group(1), 16): m.group(2) for m in re.finditer(r"^\s*([0-9a-f]+):\s+(\S+)", out, re.M)}


_symbols = []


def symbol_name(address):
    """function+offset for an address of this tree's kernel, or '?'."""
    if not _symbols:
        _symbols.extend(function_symbols(KERNEL))
    return name_in(_symbols, address) or "?"


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


def judge(s, status, timed_out, log):
    """None when the scenario did what it must, else why not (one line)."""
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
        wanted = QEMU_EXIT_PASS if s.debug_exit else 0  # without isa-debug-exit: ACPI soft-off
        if status != wanted:
            return f"QEMU exit status {status}, not {wanted} (poweroff)"
    elif s.expect in ("panic", "fail"):
        if status != QEMU_EXIT_FAIL:
            return f"QEMU exit status {status}, not {QEMU_EXIT_FAIL} (the kernel's failure exit)"
        if s.expect == "panic" and "PANIC:" not in log:
            return "no PANIC: report"
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
        results.append(("unit test program", False, f"exit status {result.returncode}: {result.stderr.strip()[-300:]}"))
    return results


SHELL_SESSION = [
    "help", "", "bogus", "nmi 0", "nmi abc", "nmi 5", "pf-in-nmi", "int3-in-nmi", "tasks", "dump",
    "kprobe add no_such_function", "kprobe add trap_dispatch", "kprobe add breakpoint", "int3-in-nmi",
    "kprobe add kprobe_hit", "kprobe add nmi_dispatch", "nmi 2", "kprobe del nmi_dispatch", "kprobe del nmi_dispatch",
    "vmalloc", "mode latch", "pf-in-nmi", "mode bogus", "mode nested", "watchdog off", "watchdog 61", "watchdog 5",
    "trace on", "pf-in-nmi", "stats", "x" * 300, "\x01\x02odd\x1b[A\x7f\x7f\x7f\x7f", "help me with too many words here",
    "poweroff",
]
SCENARIOS += [
    Scenario("shell", "", "bios", expect="poweroff", serial_input=True, action=type_lines(SHELL_SESSION), timeout=60,
             must=[r"nmilab> help\n  help", r"shell: unknown command 'bogus' \(type help\)",
                   r"nmilab> nmi 0\nusage: nmi \[N\], N from 1 to 100000", r"nmilab> nmi abc\nusage: nmi",
                   r"sent 5 NMIs to this CPU; the handler claimed 5",
                   r"nmilab> pf-in-nmi\n# nmi counters: entries 2 nested 1 passes 2 extra passes 1",
                   r"nmilab> int3-in-nmi\n# nmi counters: entries 2 nested 1 passes 2 extra passes 1",
                   r"  0 main +running\n  1 idle", r"show_state: \d+ tasks dumped",
                   r"kprobe: there is no kernel function named 'no_such_function'",
                   r"nmilab> kprobe add trap_dispatch\nkprobe: trap_dispatch is on the int3, page-fault or NMI entry "
                   r"path \(or in kprobes itself\): a probe there would recurse; refused",
                   r"nmilab> kprobe add breakpoint\nkprobe: breakpoint is on the", r"nmilab> kprobe add kprobe_hit\nkprobe: "
                   r"kprobe_hit is on the", r"kprobe: nmi_dispatch removed after [2-9]\d* hits", r"kprobe: nmi_dispatch is not probed",
                   r"vmalloc: a page at 0xffffff0000000000; written from a page table made before the area existed: "
                   r"1 fault\(s\)", r"nmi: strategy latch\nnmilab> pf-in-nmi\n# nmi counters: entries 2 nested 1",
                   r"usage: mode nested\|naive\|naive-raw\|latch", r"watchdog: off", r"usage: watchdog on\|off\|N",
                   r"watchdog: hard-lockup detector on, threshold 5 s",
                   r"trace: step 1 arrival\n", r"trace: step 2 nested NMI, iret -> repeat_nmi\n",
                   r"trace: step 3 repeat\n", r"trace: step 4 exit\n", r"trace:   executing 0000000000000000",
                   r"CPU 0: strategy nested; NMIs \d+", r"shell: line too long \(at most 120 characters\); ignored",
                   r"nmilab> odd\[A(\x08 \x08){4}\nshell: unknown command 'o'",
                   r"shell: too many words \(at most 4\)", r"nmilab> poweroff"]),
    Scenario("nmi-trace", "test=nmi-trace", "bios", must=[r"trace: step 1 arrival\n(trace: .*\n){4}trace: step 2 nested NMI, "
                                                          r"iret -> repeat_nmi\n(trace: .*\n){4}trace: step 3 repeat\n"
                                                          r"(trace: .*\n){4}trace: step 4 exit\n"]),
    Scenario("no-keyboard", "", "bios", expect="hang", qemu_args=["-machine", "pc,i8042=off"], done=r"nmilab> ",
             must=[r"keyboard: no PS/2 controller answers, so only the serial line can type here; the demos need no "
                   r"keyboard: restart and pick them in GRUB's menu \(nmilab demos\)\nnmilab> "]),
    Scenario("shell-keyboard", "", "bios", expect="hang", action=press_keys("stats\nBogus\n"),
             done=r"unknown command", must_not=[r"keyboard: no PS/2"], must=[r"nmilab> stats\nCPU 0: strategy nested",
                                            r"shell: unknown command 'Bogus'"]),
    Scenario("screen", "", "uefi", expect="poweroff", serial_input=True, action=screen_shows_text("poweroff"),
             must=[r"screen framebuffer 800x600x(24|32), 100x37 characters", r"nmilab> poweroff"]),
    Scenario("screen-1920x1080", "", "uefi", expect="poweroff", serial_input=True, gfxpayload="1920x1080",
             action=screen_shows_text("poweroff", font_scale=2),
             must=[r"screen framebuffer 1920x1080x32, 120x33 characters", r"nmilab> poweroff"]),
    Scenario("screen-scroll", "test=screen-scroll", "uefi", gfxpayload="1920x1080", action=scroll_without_torn_glyphs,
             timeout=120),
    Scenario("screen", "", "bios", expect="poweroff", serial_input=True, action=screen_shows_text("poweroff"),
             must=[r"screen vga text 80x25"]),
    Scenario("acpi-poweroff", "", "bios", expect="poweroff", serial_input=True, debug_exit=False, timeout=60,
             action=type_lines(["poweroff"]), must=[r"nmilab> poweroff"], must_not=[r"did not work"]),
    Scenario("unknown-nmi", "watchdog=off", "bios", expect="poweroff", serial_input=True,
             action=external_nmi_at_prompt(["stats", "poweroff"]),
             must=[r"NMI: unknown NMI \(#1\) at [0-9a-f]+: no handler claimed it and port 0x61 shows no reason",
                   r"unknown 1; watchdog off"]),
    # An NMI while the watchdog tries its source (as it starts the PIT) is not the
    # watchdog's: no lockup report, and the watchdog still starts.
    Scenario("watchdog-probe-nmi", "test=boot watchdog=2", "bios", action=nmi_at_boot("pit_start_periodic"),
             must=[r"NMI: unknown NMI \(#1\)", r"watchdog: hard-lockup detector on, threshold 2 s"],
             must_not=[r"hard LOCKUP"]),
    # NMIs during boot: before the NMI entry is installed (counted, reported once), and a storm
    # during timer calibration (the measured TSC rate must not change).
    Scenario("early-nmi", "test=boot", "bios", action=nmi_at_boot("paging_init"),
             must=[r"nmi: 1 NMI\(s\) arrived during boot, before the NMI handlers were ready: counted, ignored"]),
    Scenario("calibration-storm", "test=boot", "bios", action=nmi_at_boot("timer_init", storm_until=r"timer: TSC"),
             must=[r"NMI: unknown NMI"], check=same_tsc_as_a_calm_boot),
    # A lockup report must mean a lockup: self-NMIs and an external storm with the watchdog on
    # report nothing; the real lockup afterwards is reported.
    Scenario("watchdog-storm", "", "bios", expect="hang", serial_input=True, timeout=60,
             action=storm_while_typing(["nmi 50000", "nmi 100000", "stats", "lockup"]), done=r"show_state: \d+ tasks dumped",
             must=[r"self-NMIs sent 50000 claimed 50000", r"self-NMIs sent 100000 claimed 100000",
                   r"NMI: unknown NMI", r"locking up CPU 0[\s\S]*hard LOCKUP on CPU 0", r"command_lockup\+0x"],
             must_not=[r"hard LOCKUP[\s\S]*locking up CPU 0"]),
    Scenario("shell-lockup", "", "bios", expect="hang", serial_input=True, action=type_lines(["watchdog 1", "lockup"]),
             done=r"show_state: \d+ tasks dumped", must=[r"locking up CPU 0", r"hard LOCKUP on CPU 0",
                                                        r"command_lockup\+0x", r"show_state: 2 tasks dumped"]),
]
SCENARIOS += nmi_scenarios()


def bochs_scenarios():
    """Under Bochs: a CPU with x2APIC (the only place nmilab's x2APIC code runs) gets the whole
    set; one without (xAPIC) the boot and the core demonstration."""
    out = []
    for cpu, everything in (("corei7_skylake_x", True), ("core2_penryn_t9600", False)):
        firmware = f"bochs {cpu}"
        apic = r"apic: x2APIC mode" if everything else r"apic: xAPIC at fee00000"
        out.append(Scenario("boot", "test=boot", firmware, must=[apic, r"screen vga text 80x25"]))
        out.append(Scenario("smp-boot", "test=smp-boot", firmware + " smp", must=[apic, r"smp: 2 CPUs online"]))
        if everything:
            out.append(Scenario("panic-fault", "test=panic-fault", firmware, expect="panic", done=r"system halted",
                                must=[r"PANIC: page fault \(#PF\) at 0000100000000000", REGISTERS, BACKTRACE]))
        for strategy in ("nested", "latch"):
            names = ("nmi-pf-nested", "nmi-int3-nested", "vmalloc-nmi", "module-nmi", "kprobe-nmi")
            for name in names if everything else ("nmi-pf-nested",):
                must = [apic, r"nmi: strategy " + strategy]
                out.append(Scenario(f"{name} nmi={strategy}", f"test={name} nmi={strategy}", firmware, must=must))
            # Two CPUs (Bochs has no PIC on LINT0: the watchdog is the buddy detector there)
            smp = [r"smp: 2 CPUs online", r"nmi: strategy " + strategy]
            out += [] if not everything else [Scenario(f"smp-nested-nmi nmi={strategy}", f"test=smp-nested-nmi nmi={strategy}", firmware + " smp",
                             must=[*smp, r"# CPU 1: 300 rounds, 600 self-NMIs claimed"]),
                    Scenario(f"smp-lockup nmi={strategy}", f"test=smp-lockup nmi={strategy} watchdog=1",
                             firmware + " smp", must=[*smp, r"hard LOCKUP on CPU 1: the timer tick has not advanced "
                                                      r"for 1 s \(interrupts off\?\); seen by CPU 0\n(.*\n){8}backtrace:"
                                                      r"\n\s+#0\s+[0-9a-f]{16} smp_lockup_spin\+"]),
                    Scenario(f"nmi-backtrace-all nmi={strategy}", f"test=nmi-backtrace-all nmi={strategy}",
                             firmware + " smp", must=[*smp, r"CPU 1 \(APIC ID \d+\): NMI backtrace\n(.*\n){8}"
                                                      r"backtrace:\n\s+#0\s+[0-9a-f]{16} spin_with_interrupts_off\+",
                                                      r"backtrace-all: 2 of 2 CPUs answered"])]
        if everything:  # a stricter CPU for user mode: SMEP and SMAP, and iretq checks the RIP it returns to
            out.append(Scenario("user-security", "test=user-security", firmware, must=[r"SMEP on, SMAP on"]))
            out.append(Scenario("user-mode", "test=user-mode", firmware, must=[r"hello from user mode"]))
            out.append(Scenario("user-fuzz", "test=user-fuzz", firmware))
            out.append(Scenario("user-noncanonical-return", "test=user-noncanonical-return", firmware,
                                must=[r"# the return to a non-canonical RIP went by iretq and faulted on the iretq, "
                                      r"in the kernel"]))
    return out


def smp_scenarios():
    """Several CPUs: QEMU -smp 4 (each vCPU a thread of its own under TCG)."""
    smp4 = ("-smp", "4")
    out = [Scenario("smp-boot", "test=smp-boot", "bios", qemu_args=smp4,
                    must=[r"smp: 4 CPUs online", r"# CPU 3: APIC ID 3, TSS 58"]),
           Scenario("smp-boot", "test=smp-boot", "uefi", qemu_args=smp4, must=[r"smp: 4 CPUs online"]),
           Scenario("smp-task-churn", "test=smp-task-churn", "bios", qemu_args=smp4, must=[r"# 3000 tasks made, 3000 ran"]),
           Scenario("smp-kprobe-churn", "test=smp-kprobe-churn", "bios", qemu_args=smp4,
                    must=[r"# 2000 rounds, \d+ calls, [1-9]\d* of them hit the probe"]),
           Scenario("smp=2", "test=smp-boot smp=2", "bios", qemu_args=smp4, must=[r"smp: 2 CPUs online"]),
           Scenario("nosmp", "test=smp-boot nosmp", "bios", qemu_args=smp4, must=[r"smp: 1 CPU \(nosmp or smp=1\)"]),
           Scenario("bad-smp-options", "test=boot smp=0 nosmp=1", "bios", qemu_args=smp4,
                    must=[r"smp: bad value '0' \(use smp=N, N from 1 to 8, or nosmp\); starting every CPU",
                          r"cmdline: option 'nosmp' takes no value", r"smp: 4 CPUs online"])]
    for strategy in ("nested", "latch"):
        out += [
            Scenario(f"nmi-backtrace-all nmi={strategy}", f"test=nmi-backtrace-all nmi={strategy}", "bios",
                     qemu_args=smp4,
                     must=[r"CPU 0 \(APIC ID 0\): the one asking", r"CPU 1 \(APIC ID 1\): NMI backtrace\n(.*\n){8}"
                           r"backtrace:\n\s+#0\s+[0-9a-f]{16} spin_with_interrupts_off\+",
                           r"CPU 2 \(APIC ID 2\): NMI backtrace", r"CPU 3 \(APIC ID 3\): NMI backtrace",
                           r"backtrace-all: 4 of 4 CPUs answered", r"# CPU 2: the backtrace NMI arrived nested"]),
            Scenario(f"smp-nested-nmi nmi={strategy}", f"test=smp-nested-nmi nmi={strategy}", "bios", qemu_args=smp4,
                     must=[r"# CPU 3: 300 rounds, 600 self-NMIs claimed"]),
            Scenario(f"smp-storm nmi={strategy}", f"test=smp-storm nmi={strategy}", "bios", qemu_args=smp4,
                     action=inject_nmis(r"storm: QMP inject-nmi please", until=r"ok 1 - ", gap=0.01),
                     must=[r"# CPU 3: \d+ rounds, \d+ self-NMIs claimed, [1-9]\d+ external"]),
            Scenario(f"smp-lockup nmi={strategy}", f"test=smp-lockup nmi={strategy} watchdog=1", "bios",
                     qemu_args=smp4,
                     must=[r"CPU 2: checked by CPU 1's timer tick",
                           r"hard LOCKUP on CPU 2: the timer tick has not advanced for 1 s \(interrupts off\?\); seen "
                           r"by CPU 1\n(.*\n){8}backtrace:\n\s+#0\s+[0-9a-f]{16} smp_lockup_spin\+",
                           r"backtrace-all: 4 of 4 CPUs answered"]),
        ]
    out.append(Scenario("smp-nested-nmi nmi=naive", "test=smp-nested-nmi nmi=naive", "bios", qemu_args=smp4,
                        expect="panic", must=[OVERWRITE, r"PANIC: NMI frame overwritten by nested NMI \(nmi=naive\) "
                                                         r"\(on CPU \d\)"]))
    return out


SCENARIOS += demo_scenarios()
SCENARIOS += user_scenarios()
SCENARIOS += smp_scenarios()
SCENARIOS += bochs_scenarios()  # last: the slowest, and the QEMU results come first


def main():
    parser = argparse.ArgumentParser(description="Run nmilab's unit tests and QEMU scenarios.")
    parser.add_argument("words", nargs="*", help="run only tests whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the tests and exit")
    # One QEMU more than there are CPUs: every boot spends part of its time waiting (firmware
    # timers, the runner's sleeps between typed lines).
    parser.add_argument("--jobs", type=int, default=max(1, min((os.cpu_count() or 1) + 1, 4)))
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import labs
    lab_ids = {i for _, ids in labs.LABS.values() for i in ids} if "labs" in args.words else set()
    chosen = [s for s in SCENARIOS if not args.words or any(w in s.id for w in args.words) or s.id in lab_ids]
    # The slow UEFI boots first, so that the last minute is not one of them running alone; Bochs
    # stays last.
    chosen.sort(key=lambda s: 0 if s.firmware in ("uefi", "usb") else 2 if s.firmware.startswith("bochs") else 1)
    if args.list:
        print("unit tests (host)")
        for s in SCENARIOS:
            print(f"{s.id:40} {s.cmdline}")
        return 0
    started = time.time()
    os.makedirs(LOGS, exist_ok=True)
    os.makedirs(ISOS, exist_ok=True)
    passed = failed = 0

    if not args.words or any(w in "unit tests (host)" for w in args.words):
        for name, ok, detail in run_unit_tests():
            print(f"{'ok  ' if ok else 'FAIL'} unit: {name}" + ("" if ok else f": {detail}"), flush=True)
            passed, failed = passed + ok, failed + (not ok)

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:  # the ISOs first, one per command line
        list(pool.map(lambda key: iso_for(*key), sorted({(s.cmdline, s.menu_seconds, s.gfxpayload) for s in chosen})))
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_scenario, s): s for s in chosen}
        for future in concurrent.futures.as_completed(futures):
            s = futures[future]
            ok, reason, seconds, log = future.result()
            results[s.id] = ok
            log_file = keep_log(s, ok, log)
            if ok:
                print(f"ok   {s.id} ({seconds:.1f} s)", flush=True)
                passed += 1
            else:
                print(f"FAIL {s.id}: {reason} (log: {os.path.relpath(log_file, ROOT)})", flush=True)
                for line in log.strip().splitlines()[-12:]:  # the end of the log, for CI output
                    print(f"     | {line[:150]}", flush=True)
                failed += 1
    if not args.words or "labs" in args.words:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            checks = {pool.submit(labs.check, lab, results): lab for lab in labs.LABS}
            for future in concurrent.futures.as_completed(checks):
                lab = checks[future]
                ok, message = future.result()
                first, *details = message.split("\n")
                print(f"{'ok  ' if ok else 'FAIL'} lab {lab} ({labs.LABS[lab][0]}): {first}", flush=True)
                for line in details:
                    print(f"     | {line}", flush=True)
                passed, failed = passed + ok, failed + (not ok)
    if not args.words or "historical" in args.words:
        for ok, lines in historical_checks():
            print(f"{'ok  ' if ok else 'FAIL'} historical: {lines[0]}", flush=True)
            for line in lines[1:]:
                print(f"     | {line.strip()}", flush=True)
            passed, failed = passed + ok, failed + (not ok)
    if not args.words or "verify" in args.words:  # make verify's bounded form (tests/verify.py)
        import verify
        for ok, lines in verify.checks(quick=True, with_mutants=True, jobs=args.jobs):
            print(f"{'ok  ' if ok else 'FAIL'} verify: {lines[0]}", flush=True)
            for line in lines[1:]:
                print(f"     | {line.strip()}", flush=True)
            passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed ({time.time() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
