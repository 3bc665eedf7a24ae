"""The shell at the serial console and the keyboard: a person typing every command, the
keyboard's absence, and powering off through ACPI."""
from ..actions import press_keys, type_lines
from ..scenario import Scenario

SHELL_SESSION = [
    "help",
    "",
    "bogus",
    "nmi 0",
    "nmi abc",
    "nmi 5",
    "pf-in-nmi",
    "int3-in-nmi",
    "tasks",
    "dump",
    "kprobe add no_such_function",
    "kprobe add trap_dispatch",
    "kprobe add breakpoint",
    "int3-in-nmi",
    "kprobe add kprobe_hit",
    "kprobe add nmi_dispatch",
    "nmi 2",
    "kprobe del nmi_dispatch",
    "kprobe del nmi_dispatch",
    "vmalloc",
    "mode latch",
    "pf-in-nmi",
    "mode bogus",
    "mode ret",
    "pf-in-nmi",
    "mode nested",
    "watchdog off",
    "watchdog 61",
    "watchdog 5",
    "trace on",
    "pf-in-nmi",
    "stats",
    "x" * 300,
    "\x01\x02odd\x1b[A\x7f\x7f\x7f\x7f",
    "nmi 1 2 3",
    "help me with five words",
    "poweroff",
]

SCENARIOS = [
    Scenario(
        "shell",
        "",
        "bios",
        expect="poweroff",
        serial_input=True,
        action=type_lines(SHELL_SESSION),
        timeout=60,
        must=[
            r"nmilab> help\n  help",
            r"shell: unknown command 'bogus' \(type help\)",
            r"nmilab> nmi 0\nusage: nmi \[N\], N from 1 to 100000",
            r"nmilab> nmi abc\nusage: nmi",
            r"sent 5 NMIs to this CPU; the handler claimed 5",
            r"nmilab> pf-in-nmi\n# nmi counters: entries 2 nested 1 passes 2 extra passes 1",
            r"nmilab> int3-in-nmi\n# nmi counters: entries 2 nested 1 passes 2 extra passes 1",
            r"  0 main +running\n  1 idle",
            r"show_state: \d+ tasks dumped",
            r"kprobe: there is no kernel function named 'no_such_function'",
            r"nmilab> kprobe add trap_dispatch\nkprobe: trap_dispatch is on the int3, page-fault "
            r"or NMI entry "
            r"path \(or in kprobes itself\): a probe there would recurse; refused",
            r"nmilab> kprobe add breakpoint\nkprobe: breakpoint is on the",
            r"nmilab> kprobe add kprobe_hit\nkprobe: " r"kprobe_hit is on the",
            r"kprobe: nmi_dispatch removed after [2-9]\d* hits",
            r"kprobe: nmi_dispatch is not probed",
            r"vmalloc: a page at 0xffffff0000000000; written from a page table made before the "
            r"area existed: "
            r"1 fault\(s\)",
            r"nmi: strategy latch\nnmilab> pf-in-nmi\n# nmi counters: entries 2 nested 1",
            r"usage: mode nested\|naive\|naive-raw\|latch\|ret",
            r"nmi: strategy ret\nnmilab> pf-in-nmi\n# nmi counters: entries 2 nested 0 passes 2 "
            r"extra passes 0",
            r"watchdog: off",
            r"usage: watchdog on\|off\|N",
            r"watchdog: hard-lockup detector on, threshold 5 s",
            r"trace: step 1 arrival\n",
            r"trace: step 2 nested NMI, iret -> repeat_nmi\n",
            r"trace: step 3 repeat\n",
            r"trace: step 4 exit\n",
            r"trace:   executing 0000000000000000",
            r"CPU 0: strategy nested; NMIs \d+",
            r"shell: line too long \(at most 120 characters\); ignored",
            r"nmilab> odd\[A(\x08 \x08){4}\nshell: unknown command 'o'",
            r"nmilab> nmi 1 2 3\nusage: nmi",
            r"nmilab> help me with five words\nshell: too many words \(at most 4\)",
            r"nmilab> poweroff",
        ],
    ),
    Scenario(
        "nmi-trace",
        "test=nmi-trace",
        "bios",
        must=[
            r"trace: step 1 arrival\n(trace: .*\n){4}trace: step 2 nested NMI, "
            r"iret -> repeat_nmi\n(trace: .*\n){4}trace: step 3 repeat\n"
            r"(trace: .*\n){4}trace: step 4 exit\n"
        ],
    ),
    Scenario(
        "no-keyboard",
        "",
        "bios",
        expect="hang",
        qemu_args=["-machine", "pc,i8042=off"],
        done=r"nmilab> ",
        must=[
            r"keyboard: no PS/2 controller answers, so only the serial line can type here; the "
            r"demos need no "
            r"keyboard: restart and pick them in GRUB's menu \(nmilab demos\)\nnmilab> "
        ],
    ),
    Scenario(
        "shell-keyboard",
        "",
        "bios",
        expect="hang",
        action=press_keys("stats\nBogus\n"),
        done=r"unknown command",
        must_not=[r"keyboard: no PS/2"],
        must=[r"nmilab> stats\nCPU 0: strategy nested", r"shell: unknown command 'Bogus'"],
    ),
]

ACPI_POWEROFF = Scenario(
    "acpi-poweroff",
    "",
    "bios",
    expect="poweroff",
    serial_input=True,
    debug_exit=False,
    timeout=60,
    action=type_lines(["poweroff"]),
    must=[r"nmilab> poweroff"],
    must_not=[r"did not work"],
)
