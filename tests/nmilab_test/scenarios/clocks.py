"""Machines without a counting PIT (Hyper-V's second generation, boards that gate the 8254's
clock): the TSC and the APIC timer measured against the HPET or the ACPI PM timer, or against
nothing; the tick, the shell and the watchdog on each."""
from ..actions import type_lines
from ..scenario import Scenario

PIT_SILENT = r"timer: the PIT did not count\n"


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


SCENARIOS = [
    no_pit_lockup("no-pit", "pc,pit=off", r"the HPET\)"),
    no_pit_lockup("no-pit-no-hpet", "pc,pit=off,hpet=off", r"the ACPI PM timer\)"),
    # No clock at all (and no ACPI, so no HPET or PM timer to find): no tick, but the shell answers
    # and a task that sleeps wakes (cast sleeps 5 ticks before it lists the tasks).
    Scenario(
        "no-clock",
        "watchdog=off",
        "bios",
        expect="poweroff",
        serial_input=True,
        qemu_args=["-machine", "pc,pit=off,hpet=off,acpi=off", "-smp", "1"],
        action=type_lines(["cast", "nmi 3", "poweroff"]),
        must=[
            PIT_SILENT,
            r"timer: no clock to measure against; assuming a 1 GHz TSC and no timer tick",
            r"nmilab> cast\n(.*\n)*  0 main +running",
            r"sent 3 NMIs to this CPU; the handler claimed 3",
        ],
    ),
]
