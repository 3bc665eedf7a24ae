"""A kernel that went silent because its CPU runs where no code is (a gate or a return address
pointing nowhere) is failed at once, not after the scenario's timeout: once the scenarios have
started and the serial log has not grown for a while, the runner asks QEMU where the CPU is."""
import re
import time

from .kernel_image import symbol
from .qmp import Qmp

SILENT_SECONDS = 2.0  # no new output for this long: look at the CPU
USER_CODE = (0x0000008000000000, 0x0000010000000000)  # the user programs (kernel/user.c)
VMALLOC = (0xFFFFFF0000000000, 0xFFFFFF8000000000)  # module-like code copied there by scenarios


class CpuWatch:
    """lost(log) is None while the CPU may be running code, else why the run is over. It holds
    the run's only QMP connection: qmp (None until used) is for the report afterwards too."""

    def __init__(self, qmp_path):
        self.qmp_path, self.qmp = qmp_path, None
        self.length, self.changed, self.looked = -1, time.time(), 0.0
        self.code = (symbol("kernel_start"), symbol("kernel_text_end"))

    def lost(self, log):
        now = time.time()
        if "TAP version" not in log:  # firmware and GRUB first: their code is not the kernel's
            return None
        if len(log) != self.length:
            self.length, self.changed = len(log), now
            return None
        if now - self.changed < SILENT_SECONDS or now - self.looked < 1.0:
            return None
        self.looked = now
        try:
            if self.qmp is None:
                self.qmp = Qmp(self.qmp_path, now + 2)
            reply = self.qmp.command("human-monitor-command", **{"command-line": "info registers"})
            found = re.search(r"RIP=([0-9a-f]+)", reply.get("return", ""))
        except (OSError, ValueError):
            return None  # QEMU busy or gone: the run's own checks decide
        if not found:
            return None
        rip = int(found.group(1), 16)
        if any(low <= rip < high for low, high in (self.code, USER_CODE, VMALLOC)):
            return None
        return (
            f"the CPU runs at {rip:016x}, where there is no code (silent for "
            f"{now - self.changed:.0f} s): a gate or a return address points nowhere"
        )
