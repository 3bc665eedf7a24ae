"""The test ISOs: one per command line, built once by tools/mkiso.sh and cached by content."""
import hashlib
import os
import subprocess

from .paths import ISOS, KERNEL, ROOT


def iso_for(cmdline, menu_seconds=0, gfxpayload=""):
    """The test ISO for a command line (GRUB menu timeout 0, or menu_seconds for a test that picks
    an entry in the menu; gfxpayload: the UEFI screen size), built once and cached by content."""
    with open(KERNEL, "rb") as f:
        digest = hashlib.sha256(
            f.read()
            + cmdline.encode()
            + open(os.path.join(ROOT, "grub.cfg"), "rb").read()
            + f"{menu_seconds} {gfxpayload}".encode()
        )
    path = os.path.join(ISOS, digest.hexdigest()[:16] + ".iso")
    if not os.path.exists(path):
        subprocess.run(
            [
                os.path.join(ROOT, "tools", "mkiso.sh"),
                KERNEL,
                path + ".tmp",
                cmdline,
                str(menu_seconds),
            ],
            check=True,
            env=dict(os.environ, GFXPAYLOAD=gfxpayload),
        )
        os.replace(path + ".tmp", path)
    return path
