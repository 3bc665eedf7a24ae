"""Bochs: a second, independent emulator, stricter than QEMU in places, and the only one here
with x2APIC CPU models. It has no isa-debug-exit: the kernel powers off through ACPI, Bochs logs
the soft-off and exits, and the TAP lines say pass or fail."""
import os
import re

from .iso import iso_for
from .judge import read
from .qemu import QEMU_EXIT_FAIL, QEMU_EXIT_PASS

BOCHS = os.environ.get("BOCHS", "bochs")

# sound: driver=dummy because on a machine without a sound card Debian's Bochs 2.7 aborts in its
# ALSA plugin ("buffer overflow detected") before the BIOS runs.
BOCHS_CONFIG = """megs: 256
cpu: model={cpu}, count={count}, ips=50000000, ignore_bad_msrs=0
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
        f.write(
            BOCHS_CONFIG.format(
                cpu=cpu,
                count=count,
                iso=iso_for(s.cmdline),
                serial=log_path,
                log=os.path.join(scratch, "bochs.log"),
            )
        )
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
