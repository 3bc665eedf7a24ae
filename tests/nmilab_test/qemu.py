"""QEMU: its binary, the exit statuses of isa-debug-exit, the firmware a scenario boots under,
and the command line of one scenario's boot."""
import os
import shutil

from .iso import iso_for

QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
QEMU_EXIT_PASS, QEMU_EXIT_FAIL = 33, 35
# Every boot of the tests: the memory, no window, no reboot (a triple fault ends the run).
QEMU_BASE = [QEMU, "-m", "256M", "-display", "none", "-no-reboot"]
# The port the kernel writes to end a run with a status (33 pass, 35 fail).
DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


def first_existing(*paths):
    return next((p for p in paths if os.path.exists(p)), None)


OVMF_CODE = first_existing(
    "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/ovmf/OVMF.fd"
)
OVMF_VARS = first_existing("/usr/share/OVMF/OVMF_VARS_4M.fd", "/usr/share/OVMF/OVMF_VARS.fd")


def firmware_args(firmware, iso, scratch):
    """The drives for a boot under "bios", "uefi" (OVMF) or "usb" (OVMF, the ISO on a stick)."""
    if firmware == "bios":
        return ["-cdrom", iso]
    vars_copy = os.path.join(scratch, "ovmf_vars.fd")
    shutil.copy(OVMF_VARS, vars_copy)
    args = [
        "-drive",
        f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
        "-drive",
        f"if=pflash,format=raw,file={vars_copy}",
    ]
    if firmware == "uefi":
        return args + ["-cdrom", iso]
    # "usb": the ISO written to a USB stick, as a user would with dd, on an xHCI controller.
    return args + [
        "-device",
        "qemu-xhci",
        "-drive",
        f"if=none,id=stick,format=raw,readonly=on,file={iso}",
        "-device",
        "usb-storage,drive=stick",
    ]


def qemu_command(s, serial_args, qmp_path, gdb_path, scratch):
    """QEMU for scenario s: no display, no reboot, QMP always, the gdb stub for a scenario with
    an action, isa-debug-exit unless the scenario powers off through ACPI."""
    return [
        *QEMU_BASE,
        *serial_args,
        *(DEBUG_EXIT if s.debug_exit else []),
        "-qmp",
        f"unix:{qmp_path},server=on,wait=off",
        *(["-gdb", f"unix:{gdb_path},server=on,wait=off"] if s.action else []),
        *firmware_args(s.firmware, iso_for(s.cmdline, s.menu_seconds, s.gfxpayload), scratch),
        *s.qemu_args,
    ]
