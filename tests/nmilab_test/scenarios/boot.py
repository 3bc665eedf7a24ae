"""One boot and what it prints: the screen, the command line, panics, the self-test, options."""
from ..scenario import Scenario
from ..actions import typed_before_serial_init
from .patterns import BACKTRACE, REGISTERS

BOOT_BIOS = Scenario(
    "boot", "test=boot", "bios", must=[r"screen vga text 80x25", r"memory map: \d+ regions"]
)
NOFAULT = Scenario("nofault", "test=nofault", "bios")
# Bytes on the line just before the UART's loopback test: the serial console must stay on.
SERIAL_TYPED_AT_BOOT = Scenario(
    "serial-typed-at-boot",
    "test=boot",
    "bios",
    serial_input=True,
    action=typed_before_serial_init,
    must=[r"memory map: \d+ regions"],
    hint="serial_init must empty the receive FIFO in loopback before its echo test",
)
PANIC_FAULT = Scenario(
    "panic-fault",
    "test=panic-fault",
    "bios",
    expect="panic",
    must=[
        r"PANIC: page fault \(#PF\) at 0000100000000000: not-present page on write in kernel mode",
        REGISTERS,
        r"CR2 0000100000000000",
        BACKTRACE,
        r"write_to_unmapped_memory\+0x",
        r"scenario_run\+0x",
        r"kernel_main\+0x",
    ],
)

PANIC_TASK_OVERFLOW = Scenario(
    "panic-task-overflow",
    "test=panic-task-overflow",
    "bios",
    expect="panic",
    hint="a #DF must land on its IST stack: gate 8's IST field (a triple fault otherwise)",
    must=[
        r"PANIC: double fault \(#DF\), on its own IST stack: stack overflow, CR2 [0-9a-f]{16} "
        r"is in the "
        r"guard page below the task 2 stack",
        REGISTERS,
        BACKTRACE,
        r"recurse\+0x",
    ],
)

SCENARIOS = [
    BOOT_BIOS,
    Scenario("boot", "test=boot", "uefi", must=[r"screen framebuffer \d+x\d+x(24|32)"]),
    Scenario("boot", "test=boot", "usb", must=[r"screen framebuffer \d+x\d+x(24|32)"]),
    NOFAULT,
    # The performance counter's probe on an MSR QEMU's TCG lacks: it ignores the write or faults
    Scenario(
        "msr-probe", "test=msr-probe", "bios", must=[r"# MSR c0000301: (#GP, fixed up|no #GP)"]
    ),
    SERIAL_TYPED_AT_BOOT,
    Scenario(
        "cmdline-errors",
        "test=boot bogus=1 test",
        "bios",
        must=[
            r"cmdline: 'bogus' is not a known option \(ignored\)",
            r"cmdline: option 'test' needs a value",
        ],
    ),
    PANIC_FAULT,
    Scenario(
        "panic-ist-overflow",
        "test=panic-ist-overflow",
        "bios",
        expect="panic",
        must=[
            r"PANIC: double fault \(#DF\), on its own IST stack: stack overflow, CR2 [0-9a-f]{16} "
            r"is in the "
            r"guard page below the #DB IST stack",
            REGISTERS,
            BACKTRACE,
            r"recurse\+0x",
            r"overflow_debug_stack\+0x",
        ],
    ),
    PANIC_TASK_OVERFLOW,
    Scenario(
        "no-long-mode",
        "test=boot",
        "bios",
        expect="hang",
        qemu_args=["-cpu", "qemu64,-lm"],
        done=r"nmilab: this CPU has no long mode",
        must=[r"nmilab: this CPU has no long mode \(64-bit\)"],
        must_not=[r"TAP version"],
    ),
    Scenario(
        "nmi-pf-nested",
        "test=nmi-pf-nested",
        "uefi",
        must=[r"entries 2 nested 1 passes 2 extra passes 1"],
    ),
    Scenario(
        "self-test",
        "test=all",
        "bios",
        qemu_args=("-smp", "2"),
        must=[
            r"ok 1 - boot\n",
            r"ok 2 - nofault\n",
            r"ok 3 - nmi-pf-nested\n",
            r"ok 7 - kprobe-nmi\n",
            r"ok 8 - kprobe-refuse\n",
            r"ok 9 - watchdog-source\n",
            r"# the watchdog's NMI source on this machine: buddy",
            r"ok 10 - user-mode\n",
            r"ok 11 - user-security\n",
            r"ok 12 - smp-boot\n",
            r"1\.\.12\n",
            r"# all passed",
            r"self-test summary\n  scenario +result\n  boot +ok\n  nofault +ok\n"
            r"(  [\w-]+ +ok\n){5}  kprobe-refuse +ok\n  watchdog-source +ok\n  user-mode +ok\n"
            r"  user-security +ok\n  smp-boot +ok\n",
        ],
    ),
    Scenario(
        "bad-watchdog-options",
        "test=boot watchdog=abc console_delay=x",
        "bios",
        must=[
            r"watchdog: bad value 'abc' \(use watchdog=off or a number of seconds from 1 to 60\); "
            r"using 2",
            r"console_delay: bad value 'x' \(microseconds per byte, 0 to 100000\); ignored",
            r"watchdog: hard-lockup detector on, threshold 2 s, NMI source: PIT IRQ 0",
        ],
    ),
    Scenario(
        "watchdog-dump",
        "test=watchdog-dump",
        "uefi",
        must=[r"hard LOCKUP on CPU 0", r"show_state: 6 tasks dumped"],
    ),
    Scenario(
        "vmalloc-1000",
        "test=vmalloc-1000",
        "bios",
        must=[
            r"(vmalloc: a page at 0xffffff0000000000; written from a page table made before the "
            r"area existed: "
            r"1 fault\(s\) synced the top-level entry\n){1000}"
        ],
    ),
    Scenario(
        "kprobe-refuse",
        "test=kprobe-refuse",
        "bios",
        must=[
            r"kprobe: trap_dispatch is on the int3, page-fault or NMI entry path \(or in kprobes "
            r"itself\): "
            r"a probe there would recurse; refused",
            r"kprobe: kprobe_hit is on the",
            r"kprobe: breakpoint is on",
            r"kprobe: nmi_nested_handle is on",
            r"# kprobe-refuse: [1-9]\d+ functions refused",
        ],
    ),
    Scenario(
        "kprobe-trampoline-kept",
        "test=kprobe-trampoline-kept",
        "bios",
        must=[r"# the first trampoline still returns to probed_first\+1"],
    ),
    # The command line reaches the kernel byte for byte, whatever shell, sed and GRUB make of
    # these characters; one longer than the kernel keeps is reported, not silently cut.
    Scenario(
        "cmdline-characters",
        "test=boot x=a&b|c$d;e  y=1",
        "bios",
        must=[r"cmdline: test=boot x=a&b\|c\$d;e y=1\n"],
    ),
    Scenario(
        "cmdline-too-long",
        "test=boot" + " nmi=nested" * 30,
        "bios",
        must=[r"cmdline: truncated to 255 bytes \(GRUB passed 339\); options after that are lost"],
    ),
    Scenario(
        "bad-nmi-option",
        "test=boot nmi=bogus",
        "bios",
        must=[
            r"nmi: unknown strategy 'bogus' \(use nmi=nested, naive, naive-raw, latch or ret\); "
            r"using "
            r"nested",
            r"nmi: strategy nested",
        ],
    ),
    Scenario(
        "unknown-scenario",
        "test=no-such-thing",
        "bios",
        expect="fail",
        must=[r"not ok 1 - no-such-thing # unknown scenario"],
    ),
]
