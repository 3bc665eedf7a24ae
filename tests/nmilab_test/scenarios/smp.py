"""Several CPUs under QEMU -smp 4 (each vCPU a thread of its own under TCG)."""
import re
import subprocess

from ..actions import inject_nmis, nmi_at
from ..scenario import Scenario
from ..paths import KERNEL
from .patterns import OVERWRITE


def icr_command_write():
    """The address of apic_send_ipi's xAPIC store of the ICR's low word (offset 0x300, the one
    that sends), which comes right after the store of the destination (0x310)."""
    listing = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", KERNEL], capture_output=True, text=True, check=True
    ).stdout
    body = listing.split("<apic_send_ipi>:\n", 1)[1].split("\n\n", 1)[0]
    stores = re.findall(r"^([0-9a-f]+):\s+mov\s+%\w+,0x300\(%\w+\)$", body, re.M)
    if len(stores) != 1:
        raise RuntimeError(f"apic_send_ipi: {len(stores)} stores to ICR low, expected 1")
    return int(stores[0], 16)


def start_up_page_is_usable(log):
    """Scenario check: the page the other CPUs' start-up code was copied to lies whole inside a
    region the boot log's memory map calls usable, below 1 MiB, and overlaps no other region
    (firmware keeps its own data in the reserved ones: a fixed page could be one of them)."""
    m = re.search(r"smp: start-up code at ([0-9a-f]+), the lowest usable page above page 0", log)
    if not m:
        return "no 'smp: start-up code at' line"
    page = int(m.group(1), 16)
    usable = [
        (int(a, 16), int(b, 16))
        for a, b in re.findall(r"^  ([0-9a-f]{16})-([0-9a-f]{16}) usable$", log, re.M)
    ]
    inside = any(a <= page and page + 0xFFF <= b for a, b in usable)
    regions = re.findall(r"^  ([0-9a-f]{16})-([0-9a-f]{16}) reserved$", log, re.M)
    inside = inside and not any(
        int(a, 16) <= page + 0xFFF and page <= int(b, 16) for a, b in regions
    )
    if page >= 0x100000 or page % 0x1000 or not inside:
        return f"start-up code at {page:x}: not a whole usable page below 1 MiB in {usable}"
    return None


# What an smp-nested-nmi failure under nmi=ret means (a lab 8 grade's first line).
RET_EACH_CPU = (
    "nmi=ret: each CPU has an NMI state of its own; the in-NMI test must read this CPU's (the "
    "task register says which), or a fault on another CPU returns with iretq"
)


def smp_scenarios():
    """Several CPUs: QEMU -smp 4 (each vCPU a thread of its own under TCG)."""
    smp4 = ("-smp", "4")
    out = [
        Scenario(
            "smp-boot",
            "test=smp-boot",
            "bios",
            qemu_args=smp4,
            must=[r"smp: 4 CPUs online", r"# CPU 3: APIC ID 3, TSS 58"],
            check=start_up_page_is_usable,
        ),
        Scenario(
            "smp-boot",
            "test=smp-boot",
            "uefi",
            qemu_args=smp4,
            must=[r"smp: 4 CPUs online"],
            check=start_up_page_is_usable,
        ),
        Scenario(
            "smp-task-churn",
            "test=smp-task-churn",
            "bios",
            qemu_args=smp4,
            must=[r"# 3000 tasks made, 3000 ran"],
        ),
        Scenario(
            "smp-kprobe-churn",
            "test=smp-kprobe-churn",
            "bios",
            qemu_args=smp4,
            must=[r"# 2000 rounds, \d+ calls, [1-9]\d* of them hit the probe"],
        ),
        Scenario(
            "smp=2", "test=smp-boot smp=2", "bios", qemu_args=smp4, must=[r"smp: 2 CPUs online"]
        ),
        Scenario(
            "smp-fixup-record",
            "test=smp-fixup-record",
            "bios",
            qemu_args=smp4,
            must=[r"# 4 CPUs, 20000 fixed-up faults each: 0 records were another CPU's"],
        ),
        Scenario(
            "smp-ipi-tear",
            "test=smp-ipi-tear",
            "bios",
            qemu_args=smp4,
            action=nmi_at(icr_command_write),
            must=[r"# CPU 1 got 1 NMI\(s\), CPU 2 got 1"],
        ),
        Scenario(
            "nosmp",
            "test=smp-boot nosmp",
            "bios",
            qemu_args=smp4,
            must=[r"smp: 1 CPU \(nosmp or smp=1\)"],
        ),
        Scenario(
            "bad-smp-options",
            "test=boot smp=0 nosmp=1",
            "bios",
            qemu_args=smp4,
            must=[
                r"smp: bad value '0' \(use smp=N, N from 1 to 8, or nosmp\); starting every CPU",
                r"cmdline: option 'nosmp' takes no value",
                r"smp: 4 CPUs online",
            ],
        ),
    ]
    smp2 = ("-smp", "2")
    out += [
        # A backtrace of a CPU in user mode: the user's RIP and RSP and the program, no walk.
        Scenario(
            "smp-backtrace-user",
            "test=smp-backtrace-user",
            "bios",
            qemu_args=smp2,
            must=[
                r"CPU 1 \(APIC ID 1\): NMI backtrace\n(.*\n){6,8}  in user mode, program "
                r"syscall-loop: RIP 00000080[0-9a-f]{8} RSP 00000080[0-9a-f]{8}",
                r"# \d+ rounds of backtrace-all, [3-9] of them found CPU 1 in user mode",
            ],
            # syscall-loop's RBP (0x2222...): the walk must stop at the user RIP, never follow it
            must_not=[r"frame pointer 2222222222222222"],
        ),
        # `mode` while another CPU takes NMIs: never a half-written NMI gate.
        *(
            Scenario(
                name,
                f"test={name}",
                "bios",
                qemu_args=smp2,
                must=[r"# [1-9]\d{2,} strategy switches \(\d+ refused\) while CPU 1 took \d+"],
            )
            for name in ("smp-mode-switch", "smp-mode-switch-ret")
        ),
        # One QMP inject-nmi is one NMI, taken by the boot CPU alone (LINT1 masked elsewhere).
        Scenario(
            "nmi-external -smp 4",
            "test=nmi-external",
            "bios",
            qemu_args=smp4,
            action=inject_nmis(r"# external: waiting", count=5),
        ),
    ]
    for strategy in ("nested", "latch", "ret"):
        if strategy == "ret":  # nothing nests: it answers once its own NMI handler is done
            cpu2 = r"# CPU 2: the backtrace NMI waited for its NMI handler's own iretq"
        else:
            cpu2 = r"# CPU 2: the backtrace NMI arrived nested"
        out += [
            Scenario(
                f"nmi-backtrace-all nmi={strategy}",
                f"test=nmi-backtrace-all nmi={strategy}",
                "bios",
                qemu_args=smp4,
                must=[
                    r"CPU 0 \(APIC ID 0\): the one asking",
                    r"CPU 1 \(APIC ID 1\): NMI backtrace\n(.*\n){8}"
                    r"backtrace:\n\s+#0\s+[0-9a-f]{16} spin_with_interrupts_off\+",
                    r"CPU 2 \(APIC ID 2\): NMI backtrace",
                    r"CPU 3 \(APIC ID 3\): NMI backtrace",
                    r"backtrace-all: 4 of 4 CPUs answered",
                    cpu2,
                ],
            ),
            Scenario(
                f"smp-nested-nmi nmi={strategy}",
                f"test=smp-nested-nmi nmi={strategy}",
                "bios",
                qemu_args=smp4,
                must=[r"# CPU 3: 300 rounds, 600 self-NMIs claimed"],
                hint=RET_EACH_CPU if strategy == "ret" else None,
            ),
            Scenario(
                f"smp-storm nmi={strategy}",
                f"test=smp-storm nmi={strategy}",
                "bios",
                qemu_args=smp4,
                action=inject_nmis(r"storm: QMP inject-nmi please", until=r"ok 1 - ", gap=0.01),
                must=[
                    r"# CPU 0: \d+ rounds, \d+ self-NMIs claimed, [1-9]\d+ external",
                    r"# CPU 3: \d+ rounds, \d+ self-NMIs claimed, 0 external",
                ],
            ),
            Scenario(
                f"smp-lockup nmi={strategy}",
                f"test=smp-lockup nmi={strategy} watchdog=1",
                "bios",
                qemu_args=smp4,
                must=[
                    r"CPU 2: checked by CPU 1's timer tick",
                    r"watchdog: a CPU is not seen stuck while the CPU that checks it is stuck too",
                    r"hard LOCKUP on CPU 2: the timer tick has not advanced for 1 s \(interrupts "
                    r"off\?\); seen "
                    r"by CPU 1\n(.*\n){8}backtrace:\n\s+#0\s+[0-9a-f]{16} smp_lockup_spin\+",
                    r"backtrace-all: 4 of 4 CPUs answered",
                ],
            ),
        ]
    out.append(
        Scenario(
            "smp-nested-nmi nmi=naive",
            "test=smp-nested-nmi nmi=naive",
            "bios",
            qemu_args=smp4,
            expect="panic",
            must=[
                OVERWRITE,
                r"PANIC: NMI frame overwritten by nested NMI \(nmi=naive\) " r"\(on CPU \d\)",
            ],
        )
    )
    return out


SCENARIOS = smp_scenarios()
