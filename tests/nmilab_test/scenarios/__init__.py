"""The catalogue: every scenario make test boots, one module per area, in the order that
tests/run.py --list shows them (and runs them, within each kind of firmware).

    boot.py       a boot and what it prints: screen, command line, panics, self-test, options
    clocks.py     machines without a counting PIT: other clocks, or none
    shell.py      the shell at the serial console and the keyboard; ACPI power-off
    screen.py     text on the VGA screen and on a framebuffer, 1x and 2x, scrolling
    external.py   NMIs from outside (QMP) at the prompt, during boot, in storms; the watchdog
    nmi.py        the NMI scenarios under each strategy (under(strategy, name) finds one)
    labs.py       what the labs' graders add: each lab's whole contract
    (../viewer.py the viewer's recordings, made again and compared with docs/viewer/)
    grub.py       the GRUB menu's demos, picked with keys
    user.py       user mode, its security, the NMIs of the 2015 bugs
    smp.py        several CPUs
    bochs.py      the same claims under Bochs (last: the slowest)
    patterns.py   what several of them look for in the log
"""
from . import bochs, boot, clocks, external, grub, labs, nmi, screen, shell, smp, user
from ..viewer import viewer_scenarios  # after nmi: the recordings boot its scenarios

SCENARIOS = [
    *boot.SCENARIOS,
    *clocks.SCENARIOS,
    *shell.SCENARIOS,
    *screen.SCENARIOS,
    shell.ACPI_POWEROFF,
    *external.SCENARIOS,
    *nmi.SCENARIOS,
    *viewer_scenarios(),
    *labs.SCENARIOS,
    *grub.SCENARIOS,
    *user.SCENARIOS,
    *smp.SCENARIOS,
    *bochs.SCENARIOS,  # last: the slowest, and the QEMU results come first
]

# make check: one short boot per NMI strategy, the one that shows what the strategy does with a
# page fault in an NMI handler (nested and latch survive it, naive reports the overwrite,
# naive-raw hangs silently, ret lets nothing nest).
QUICK = [
    nmi.under(strategy, "nmi-pf-nested")
    for strategy in ("nested", "naive", "naive-raw", "latch", "ret")
]
