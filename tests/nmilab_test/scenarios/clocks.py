"""Machines without a counting PIT (Hyper-V's second generation, boards that gate the 8254's
clock): the TSC and the APIC timer measured against the HPET or the ACPI PM timer, or against
nothing; the tick, the shell and the watchdog on each."""
from ..actions import type_lines
from ..scenario import Scenario

PIT_SILENT = r"timer: the PIT did not count\n"
NO_ACPI_HALT = r"poweroff: ACPI soft-off did not work on this machine; halted"  # no ACPI: no exit


def measured_against(clock):
    return r"timer: TSC \d+ MHz, APIC timer \d+ counts per 10 ms tick \(measured against " + clock


def no_pit_lockup(name, machine, clock):
    """The buddy watchdog needs every CPU's tick: a lockup reported proves the tick runs."""
    return Scenario(
        name,
        "test=smp-lockup watchdog=1",
        "bios",
        qemu_args=["-machine", machine, "-smp", "2"],
        must=[
            PIT_SILENT,
            measured_against(clock),
            r"hard LOCKUP on CPU 1: the timer tick has not advanced for 1 s",
        ],
        must_not=[r"assuming a 1 GHz TSC"],
    )


def no_clock(name, cmdline, cpus, lines, must, must_not=()):
    """A machine with no clock to measure against (and no ACPI: it halts instead of powering
    off), driven by typing `lines` at the shell."""
    return Scenario(
        name,
        cmdline,
        "bios",
        expect="hang",
        done=NO_ACPI_HALT,
        serial_input=True,
        qemu_args=["-machine", "pc,pit=off,hpet=off,acpi=off", "-smp", str(cpus)],
        action=type_lines(lines),
        must=must,
        must_not=must_not,
    )


SCENARIOS = [
    no_pit_lockup("no-pit", "pc,pit=off", r"the HPET\)"),
    no_pit_lockup("no-pit-no-hpet", "pc,pit=off,hpet=off", r"the ACPI PM timer\)"),
    # No clock at all (and no ACPI, so no HPET or PM timer to find): no tick, but the shell answers
    # and a task that sleeps wakes (cast sleeps 5 ticks before it lists the tasks).
    no_clock(
        "no-clock",
        "watchdog=off",
        cpus=1,
        lines=["cast", "nmi 3", "poweroff"],
        must=[
            PIT_SILENT,
            r"timer: no clock to measure against; assuming a 1 GHz TSC and no timer tick",
            r"nmilab> cast\n(.*\n)*  0 main +running",
            r"sent 3 NMIs to this CPU; the handler claimed 3",
        ],
    ),
    # The same with the watchdog asked for on two CPUs: the buddy detector is driven by the ticks,
    # so with none it must not claim to be on.
    no_clock(
        "no-clock-watchdog",
        "watchdog=1",
        cpus=2,
        lines=["poweroff"],
        must=[r"watchdog: no timer tick to watch; hard-lockup detection off"],
        must_not=[r"hard-lockup detector on"],
    ),
    # One CPU and no PIT: each single-CPU source is probed in turn and says why it is not used;
    # the performance counter is probed last, and QEMU's TCG has none.
    Scenario(
        "no-pit-one-cpu-watchdog",
        "watchdog=1",
        "bios",
        expect="poweroff",
        serial_input=True,
        qemu_args=["-machine", "pc,pit=off", "-smp", "1"],
        action=type_lines(["poweroff"]),
        must=[
            measured_against(r"the HPET\)"),
            r"watchdog: PIT IRQ 0 through the 8259 PIC on LINT0: programmed, but no NMI arrived",
            r"watchdog: PIT on its I/O APIC pin in NMI mode \(the 8259 does not reach LINT0\): "
            r"programmed, but no NMI arrived",
            r"watchdog: performance counter of unhalted cycles \(no PIT route delivered\): "
            r"not on this machine",
            r"watchdog: no NMI source on this machine; hard-lockup detection off",
        ],
    ),
]
