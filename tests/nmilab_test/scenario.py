"""A scenario: one boot of the kernel and what its serial output must show."""


class Scenario:
    """One QEMU boot and what it must show.

    expect='pass': QEMU exits 33 and the log has 'ok N - name' lines and no 'not ok'.
    expect='panic': QEMU exits 35 and the log has a PANIC: report.
    expect='hang': the kernel stops on purpose (no exit); the run ends once `done` is printed.
    expect='poweroff': the shell was told to power off: QEMU exits 0 (ACPI soft-off), no panic.
    must / must_not: regular expressions the serial log must (not) contain.
    finish_within: (pattern, seconds): once the log matches pattern, the kernel must finish within
    that many seconds (a report that comes at once or never: no need to wait for the timeout).
    """

    def __init__(
        self,
        name,
        cmdline,
        firmware="bios",
        expect="pass",
        must=(),
        must_not=(),
        qemu_args=(),
        done=None,
        timeout=None,
        action=None,
        serial_input=False,
        debug_exit=True,
        check=None,
        settle=0.2,
        hint=None,
        menu_seconds=0,
        gfxpayload="",
        finish_within=None,
    ):
        self.name, self.cmdline, self.firmware, self.expect = name, cmdline, firmware, expect
        self.serial_input, self.debug_exit, self.check = serial_input, debug_exit, check
        self.settle, self.hint = settle, hint  # seconds to watch after `done`; what a failure means
        self.menu_seconds = menu_seconds  # GRUB's menu timeout: for tests that pick an entry
        self.gfxpayload = gfxpayload  # the screen size GRUB sets under UEFI (make GFXPAYLOAD=...)
        self.finish_within = finish_within
        self.must, self.must_not, self.qemu_args, self.done, self.action = (
            must,
            must_not,
            qemu_args,
            done,
            action,
        )
        self.timeout = timeout or {"bios": 30, "bochs": 60}.get(firmware.split()[0], 90)

    @property
    def id(self):
        return f"{self.name} [{self.firmware}]"
