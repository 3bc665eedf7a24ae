"""The GRUB menu's demos (grub.cfg's "nmilab demos" submenu): each entry picked with keys, as a
user would, under BIOS and UEFI; each must reach its end."""
import os
import re
import time

from ..judge import wait_for
from ..paths import ROOT
from ..scenario import Scenario
from ..screen import framebuffer_text, screen_text
from .patterns import OVERWRITE


def grub_demo_entries():
    """The demo entries of grub.cfg's submenu, in order: (title, command line)."""
    with open(os.path.join(ROOT, "grub.cfg")) as f:
        text = f.read()
    submenu = text[text.index('submenu "nmilab demos') :]
    return (
        re.findall(r'menuentry "([^"]+)" \{\s*multiboot2 /boot/kernel.elf ([^\n]*)', submenu)[:-1]
        if text.count("submenu") == 1
        else []
    )


def pick_in_grub_menu(position):
    """Runner action: in GRUB's menu, go down to the demo submenu (the second entry), open it, go
    down to entry `position` and start it, with keys as a user would press them (QMP send-key to
    the PS/2 keyboard). With a screen check for naive: the overwrite report must be in the VGA text
    memory (BIOS), not only on serial."""

    def key(run, name):
        reply = run.qmp.command("send-key", keys=[{"type": "qcode", "data": name}])
        if "error" in reply:
            raise RuntimeError(f"send-key {name}: {reply['error']}")
        time.sleep(0.15)

    def action(run):
        wait_for(run.log, r"nmilab demos", run.deadline)  # the menu, also drawn on serial
        key(run, "down")
        key(run, "ret")
        wait_for(run.log, r"page fault in an NMI: nested", run.deadline)
        for _ in range(position):
            key(run, "down")
        key(run, "ret")

    return action


def demo_scenarios():
    """Each demo entry of grub.cfg, picked in the menu under BIOS and UEFI: it must reach its end
    (a naive one: the overwrite report, on the VGA screen too under BIOS)."""
    out = []
    for position, (title, cmdline) in enumerate(grub_demo_entries()):
        naive = "nmi=naive" in cmdline
        lockup = "watchdog-dump" in cmdline
        must = [r"=== demo "]
        if naive:
            must += [OVERWRITE, r"system halted"]
        elif lockup:
            must += [r"hard LOCKUP on CPU 0", r"show_state: \d+ tasks dumped"]
        else:
            must += [r"=== demo [\w-]+ done ===\nTo see another demo, restart the machine"]
        for firmware in ("bios", "uefi"):
            action = pick_in_grub_menu(position)
            if naive:  # the report must be on the screen, not only on serial

                def action(
                    run, pick=action, read=screen_text if firmware == "bios" else framebuffer_text
                ):
                    pick(run)
                    wait_for(run.log, r"system halted", run.deadline)
                    time.sleep(0.3)
                    screen = read(run)
                    if "NMI frame overwritten by nested NMI" not in screen:
                        raise RuntimeError("the overwrite report is not on the screen:\n" + screen)

            out.append(
                Scenario(
                    f"grub demo '{title}'",
                    "",
                    firmware,
                    expect="hang",
                    menu_seconds=10,
                    done=r"system halted|show_state: \d+ tasks dumped|nmilab> ",
                    settle=0.5,
                    must=must,
                    must_not=[] if naive else [r"PANIC"],
                    action=action,
                    debug_exit=False,
                    timeout=60 if firmware == "bios" else 90,
                )
            )
    return out


SCENARIOS = demo_scenarios()
