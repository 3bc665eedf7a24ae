"""User mode, its security, and the NMIs of the 2015 bugs (CVE-2015-3291, CVE-2015-5157); user
mode is refused elsewhere than nmi=nested."""
from ..actions import PAGE_FAULT_STUBS, inject_nmis, lazy, nmi_at
from ..kernel_image import instructions, mnemonics, symbol, symbol_name
from ..paths import KERNEL
from ..scenario import Scenario


def user_syscall_episodes():
    """An NMI on every instruction of the SYSCALL entry and return, syscall_entry to
    syscall_sysretq, while the user program that runs them keeps RSP in the NMI stack
    (CVE-2015-3291)."""
    path = instructions("syscall_entry", "syscall_sysretq") + [symbol("syscall_sysretq")]
    return [
        (
            address,
            lambda gdb: True,
            0,
            None,
            f"at {symbol_name(address)} (the SYSCALL path, a user RSP "
            "in the NMI stack on its first and last three instructions)",
        )
        for address in path
    ]


def user_nmi_exit_episodes():
    """Pairs: an NMI in the user program's work loop, then one on an instruction of nmi_from_user
    after its C call (the first NMI's handler has faulted: NMIs are unblocked), for each one."""
    spin = 0x0000008000000000 + symbol("syscall_loop.spin") - symbol("user_programs_start")
    path = instructions("nmi_from_user", "nmi_user_iretq") + [symbol("nmi_user_iretq")]
    names = mnemonics(KERNEL)
    after_call = path[next(i for i, a in enumerate(path) if names[a] == "call") + 1 :]
    episodes = []
    for address in after_call:
        episodes.append((spin, lambda gdb: True, 0, None, "in the user program's work loop"))
        episodes.append(
            (
                address,
                lambda gdb: True,
                0,
                None,
                f"at {symbol_name(address)} (nmi_from_user's way out)",
            )
        )
    return episodes


# How the kernel reports a user task it killed: name, fault, error code.
USER_KILLED = r"user: task \d \({}\) killed: {}, error code 0x{}, at RIP [0-9a-f]{{16}}"


SCENARIOS = []


def add(name, firmware="bios", **options):
    """A scenario test=NAME, in the catalogue; returns it."""
    SCENARIOS.append(Scenario(name, f"test={name}", firmware, **options))
    return SCENARIOS[-1]


def add_with_cpu_max(name, variant, boot_line, must):
    """test=NAME on QEMU's default CPU, and again as "NAME VARIANT" on -cpu max (SMEP and SMAP
    on), where the boot log must also say boot_line."""
    add(name, must=must)
    SCENARIOS.append(
        Scenario(
            f"{name} {variant}",
            f"test={name}",
            "bios",
            qemu_args=["-cpu", "max"],
            must=[boot_line, *must],
        )
    )


USER_MODE = add(
    "user-mode",
    must=[
        r"user: SYSCALL entry ready",
        r"hello from user mode\nuser: task \d \(hello\) exited with "
        r"status 0 after 2 system calls",
        r"\(syscall-loop\) exited with status 0 after 501 system calls",
    ],
)
SECURITY_MUST = [
    USER_KILLED.format("read", r"page fault \(#PF\)", "5") + ", address ffffffff80100000",
    USER_KILLED.format("read", r"page fault \(#PF\)", "5")
    + ", address ffffffff8[0-9a-f]{7}\n",  # NMI stack
    USER_KILLED.format("read", r"page fault \(#PF\)", "5") + ", address 0000000000100000",
    USER_KILLED.format("write", r"page fault \(#PF\)", "7"),
    USER_KILLED.format("read-idt", r"page fault \(#PF\)", "5"),
    *(
        USER_KILLED.format(name, r"general protection \(#GP\)", "0")
        for name in ("cli", "hlt", "read-cr3", "wrmsr", "out")
    ),
    r"bad-syscalls: every bad call refused\nuser: task \d \(bad-syscalls\) exited with status 0",
]
add_with_cpu_max(
    "user-security", "smep", r"user: SYSCALL entry ready; SMEP on, SMAP on", SECURITY_MUST
)
add("user-fuzz", must=[r"(\(fuzz\) exited with status 0 after 3001 system calls\n[\s\S]*){3}"])
add(
    "user-noncanonical-return",
    must=[
        r"user: task \d \(noncanonical\) killed: (its return to user mode faulted: )?"
        r"general protection \(#GP\)",
        r"# the return to a non-canonical RIP went by iretq",
    ],
)
add(
    "user-rsp-in-nmi-stack",
    action=lazy(user_syscall_episodes),
    must=[
        r"(# an NMI at syscall_entry\+0x[0-9a-f]+ was handled as a first NMI( "
        r"\(syscall_sysretq\))?\n){40,}",
        r"# an NMI at syscall_entry\+0x0 was handled",
        r"first NMI \(syscall_sysretq\)\n",
    ],
    hint="rule (c) must test DF as well as RSP: SYSCALL leaves RSP as user space set it "
    "(CVE-2015-3291)",
)
add(
    "user-nmi-exit-all",
    action=lazy(user_nmi_exit_episodes),
    timeout=60,
    must=[
        r"(# an NMI at nmi_from_user\+0x[0-9a-f]+, on the way back to user mode, was "
        r"handled\n[\s\S]*){15,}",
        r"\(syscall-loop\) exited with status 0",
    ],
)
USER_NMI_FAULT_RETURN = add(
    "user-nmi-fault-return",
    action=inject_nmis(r"# user-nmi-fault-return: the user code segment is not present", count=1),
    must=[
        r"user: the return to user mode \(to RIP 0000008[0-9a-f]{9}\) faulted in the kernel, on "
        r"the task's kernel stack",
        USER_KILLED.format(
            "cs-not-present", r"its return to user mode faulted: segment not present \(#NP\)", "20"
        ),
    ],
    hint="an NMI from user mode must move to the task's kernel stack, and an NMI nested in it must "
    "be latched "
    "(CVE-2015-5157)",
)
add(
    "user-nmi-cr2",
    action=nmi_at(PAGE_FAULT_STUBS),
    must=[USER_KILLED.format("read", r"page fault \(#PF\)", "5") + ", address ffffffff80100000"],
    hint="the NMI handler must put back the CR2 that the user's page fault has not read yet",
)
USER_NMI_STORM = add(
    "user-nmi-storm",
    action=inject_nmis(r"# user storm: start", until=r"# user storm: end", gap=0.01),
    timeout=120,
    must=[
        r"(\(syscall-loop\) exited with status 0 after 401 system calls\n[\s\S]*){3}",
        r"# user storm: [1-9]\d* NMIs from user mode",
    ],
    must_not=[r"user: task \d \(syscall-loop\) killed"],
)
SCENARIOS.append(
    Scenario(
        "user-mode nmi=latch",
        "test=user-mode nmi=latch",
        "bios",
        must=[r"ok 1 - user-mode # SKIP user mode needs nmi=nested"],
    )
)


# Issue 21: the flags ring 3 can set (NT, AC, DF, ID, TF) must not reach the kernel's own code.
RFLAGS_MUST = [
    r"(user: task \d \(rflags\) exited with status 0 after 601 system calls\n[\s\S]*){3}",
]
add_with_cpu_max("user-rflags", "smap", r"SMAP on", RFLAGS_MUST)
add(
    "user-single-step-syscall",
    must=[USER_KILLED.format(r"single-step-sys\w*", r"debug \(#DB\)", "0")],
    hint="SYSCALL must leave TF clear in the kernel (MSR_FMASK), a CPU that still steps onto "
    "syscall_entry (Bochs) must be survived, and the #DB after SYSRET is the program's",
)
# CVE-2018-8897: QEMU's TCG does not hold the #DB back after MOV SS: it comes at once, in user mode,
# on the SYSCALL (or int3) itself, so this run passes on a kernel without the fix too (it records
# what TCG does); Bochs holds it back, and its run (bochs.py) is the one that tests the fix.
add(
    "user-pop-ss",
    must=[
        r"# pop-ss-syscall: killed by debug \(#DB\) at RIP [0-9a-f]{16}, user mode",
        r"# pop-ss-int3: killed by debug \(#DB\) at RIP [0-9a-f]{16}, user mode",
    ],
)


def ac_window_episodes():
    """An NMI on the instruction after copy_to_user's stac (inside the window), a few times."""
    names = mnemonics(KERNEL)
    start = symbol("copy_to_user")
    stac = min(a for a in names if a >= start and names[a] == "stac")
    inside = min(a for a in names if a > stac)
    return [(inside, lambda gdb: True, 0, None, "inside copy_to_user's stac window")] * 4


SCENARIOS.append(
    Scenario(
        "user-ac-window",
        "test=user-ac-window",
        "bios",
        qemu_args=["-cpu", "max"],
        action=lazy(ac_window_episodes),
        must=[r"SMAP on", r"\(rflags\) exited with status 0 after 601 system calls"],
        hint="every entry from kernel mode must clac where the CPU has SMAP (an interrupt in a "
        "stac window), and a task switch must not hand AC to the next task",
    )
)


def under_ret(scenario):
    """The same scenario booted with nmi=ret: NMIs from user mode go to the task's stack as under
    nested, and every exception inside an NMI handler on the NMI stack returns without iretq."""
    copy = Scenario(
        f"{scenario.name} nmi=ret",
        f"{scenario.cmdline} nmi=ret",
        scenario.firmware,
        must=[r"nmi: strategy ret", *scenario.must],
        must_not=scenario.must_not,
        qemu_args=scenario.qemu_args,
        timeout=scenario.timeout,
        action=scenario.action,
        hint=scenario.hint,
    )
    copy.expect = scenario.expect
    return copy


# User mode under nmi=ret: the NMI scenarios of user mode, and user mode itself.
USER_UNDER_RET = (
    "user-mode",
    "user-rsp-in-nmi-stack",
    "user-nmi-exit-all",
    "user-nmi-fault-return",
    "user-nmi-cr2",
    "user-nmi-storm",
    "user-pop-ss",
)
SCENARIOS += [under_ret(s) for s in list(SCENARIOS) if s.name in USER_UNDER_RET]
