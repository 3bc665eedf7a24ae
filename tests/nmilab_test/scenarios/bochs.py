"""Under Bochs: a CPU with x2APIC (the only place nmilab's x2APIC code runs) gets the whole set;
one without (xAPIC) the boot and the core demonstration."""
from ..scenario import Scenario
from .patterns import BACKTRACE, REGISTERS


def bochs_scenarios():
    """Under Bochs: a CPU with x2APIC (the only place nmilab's x2APIC code runs) gets the whole
    set; one without (xAPIC) the boot and the core demonstration."""
    out = []
    for cpu, everything in (("corei7_skylake_x", True), ("core2_penryn_t9600", False)):
        firmware = f"bochs {cpu}"
        apic = r"apic: x2APIC mode" if everything else r"apic: xAPIC at fee00000"
        out.append(Scenario("boot", "test=boot", firmware, must=[apic, r"screen vga text 80x25"]))
        out.append(
            Scenario(
                "smp-boot", "test=smp-boot", firmware + " smp", must=[apic, r"smp: 2 CPUs online"]
            )
        )
        if everything:
            # Bochs is strict: an MSR it does not model is a #GP, which the probe must survive
            out.append(
                Scenario(
                    "msr-probe",
                    "test=msr-probe",
                    firmware,
                    must=[r"# MSR c0000301: #GP", r"# x2APIC EOI: the read faulted, fixed up"],
                )
            )
            out.append(
                Scenario(
                    "panic-fault",
                    "test=panic-fault",
                    firmware,
                    expect="panic",
                    done=r"system halted",
                    must=[r"PANIC: page fault \(#PF\) at 0000100000000000", REGISTERS, BACKTRACE],
                )
            )
        for strategy in ("nested", "latch"):
            names = ("nmi-pf-nested", "nmi-int3-nested", "vmalloc-nmi", "module-nmi", "kprobe-nmi")
            for name in names if everything else ("nmi-pf-nested",):
                must = [apic, r"nmi: strategy " + strategy]
                out.append(
                    Scenario(
                        f"{name} nmi={strategy}", f"test={name} nmi={strategy}", firmware, must=must
                    )
                )
            # One CPU: Bochs has no PIC on LINT0, so the watchdog's NMIs come through the PIT's
            # I/O APIC pin (the article's first story, told on a board like that)
            if everything:
                out.append(
                    Scenario(
                        f"watchdog-dump nmi={strategy}",
                        f"test=watchdog-dump nmi={strategy}",
                        firmware,
                        must=[
                            r"NMI source: PIT on its I/O APIC pin in NMI mode",
                            r"hard LOCKUP on CPU 0: the timer tick has not advanced for 1 s",
                            r"show_state: 6 tasks dumped",
                        ],
                    )
                )
            # Two CPUs (Bochs has no PIC on LINT0: the watchdog is the buddy detector there)
            smp = [r"smp: 2 CPUs online", r"nmi: strategy " + strategy]
            out += (
                []
                if not everything
                else [
                    Scenario(
                        f"smp-nested-nmi nmi={strategy}",
                        f"test=smp-nested-nmi nmi={strategy}",
                        firmware + " smp",
                        must=[*smp, r"# CPU 1: 300 rounds, 600 self-NMIs claimed"],
                    ),
                    Scenario(
                        f"smp-lockup nmi={strategy}",
                        f"test=smp-lockup nmi={strategy} watchdog=1",
                        firmware + " smp",
                        must=[
                            *smp,
                            r"hard LOCKUP on CPU 1: the timer tick has not advanced "
                            r"for 1 s \(interrupts off\?\); seen by CPU 0\n(.*\n){8}backtrace:"
                            r"\n\s+#0\s+[0-9a-f]{16} smp_lockup_spin\+",
                        ],
                    ),
                    Scenario(
                        f"nmi-backtrace-all nmi={strategy}",
                        f"test=nmi-backtrace-all nmi={strategy}",
                        firmware + " smp",
                        must=[
                            *smp,
                            r"CPU 1 \(APIC ID \d+\): NMI backtrace\n(.*\n){8}"
                            r"backtrace:\n\s+#0\s+[0-9a-f]{16} spin_with_interrupts_off\+",
                            r"backtrace-all: 2 of 2 CPUs answered",
                        ],
                    ),
                ]
            )
        if (
            everything
        ):  # a stricter CPU for user mode: SMEP and SMAP, and iretq checks the RIP it returns to
            out.append(
                Scenario(
                    "user-security", "test=user-security", firmware, must=[r"SMEP on, SMAP on"]
                )
            )
            out.append(
                Scenario("user-mode", "test=user-mode", firmware, must=[r"hello from user mode"])
            )
            out.append(Scenario("user-fuzz", "test=user-fuzz", firmware))
            # issue 21: the flags ring 3 can set, on a CPU with SMAP, and TF into SYSCALL
            out.append(Scenario("user-rflags", "test=user-rflags", firmware, must=[r"SMAP on"]))
            out.append(
                Scenario(
                    "user-single-step-syscall",
                    "test=user-single-step-syscall",
                    firmware,
                    must=[r"\(single-step-sys\w*\) killed: debug \(#DB\)"],
                )
            )
            out.append(
                Scenario(
                    "user-pop-ss",
                    "test=user-pop-ss",
                    firmware,
                    must=[  # CVE-2018-8897: Bochs holds the #DB back past the SYSCALL
                        r"# pop-ss-syscall: the held-back #DB landed in ring 0 at syscall_entry"
                        r"\+0, with the kernel's GS",
                        r"# pop-ss-syscall: exited with status 0",
                        # int3's gate is DPL 0: a #GP, a fault, which drops the pending #DB
                        r"# pop-ss-int3: killed by general protection \(#GP\)",
                    ],
                )
            )
            # nmi=ret on a second CPU model: the iret-less return; the held-back #DB reaching the
            # exceptions' exit in ring 0 with the user's GS (its test must not use GS); and RF
            for name in ("nmi-pf-nested", "nmi-int3-nested"):
                out.append(
                    Scenario(
                        f"{name} nmi=ret",
                        f"test={name} nmi=ret",
                        firmware,
                        must=[r"nmi: strategy ret", r"entries 2 nested 0 passes 2 extra passes 0"],
                    )
                )
            out.append(
                Scenario(
                    "user-pop-ss nmi=ret",
                    "test=user-pop-ss nmi=ret",
                    firmware,
                    must=[
                        r"nmi: strategy ret",
                        r"# pop-ss-syscall: the held-back #DB landed in ring 0 at syscall_entry"
                        r"\+0, with the kernel's GS",
                        r"# pop-ss-syscall: exited with status 0",
                    ],
                )
            )
            out.append(
                Scenario(
                    "nmi-breakpoint nmi=ret",
                    "test=nmi-breakpoint nmi=ret",
                    firmware,
                    must=[r"# breakpoint under nmi=ret: 2 calls, 4 hits, at most 4 on one call"],
                )
            )
            out.append(
                Scenario(
                    "user-noncanonical-return",
                    "test=user-noncanonical-return",
                    firmware,
                    must=[
                        r"# the return to a non-canonical RIP went by iretq and faulted on the "
                        r"iretq, "
                        r"in the kernel"
                    ],
                )
            )
    return out


SCENARIOS = bochs_scenarios()
