"""The screen: text really drawn on the VGA text screen and on a framebuffer, at the font's 1x
and 2x, and scrolling without torn glyphs."""
import os
import shutil
import time

from ..judge import wait_for
from ..paths import LOGS
from ..scenario import Scenario
from ..screen import font_defines, framebuffer_text, screendump


def screen_shows_text(then_type, font_scale=1):
    """Runner action: at the shell prompt, take a screenshot (QMP screendump) and check that the
    screen really has text on it -- light pixels in glyph-sized clusters on the dark background,
    glyphs font_scale times the font's FONT_HEIGHT pixels tall -- then type then_type on serial. The
    picture is kept in build/test-logs/ to look at."""

    def action(run):
        wait_for(run.log, r"nmilab> ", run.deadline)
        time.sleep(0.5)
        picture, width, height, pixels = screendump(run)
        lit_rows = sum(
            1
            for y in range(height)
            if any(pixels[(y * width + x) * 3] > 128 for x in range(0, width, 2))
        )
        lit = sum(1 for i in range(0, len(pixels), 3) if pixels[i] > 128)
        if not (lit > 2000 and lit_rows > 100 and lit < width * height // 4):
            raise RuntimeError(
                f"the {width}x{height} screen does not look like text: {lit} light pixels on "
                f"{lit_rows} rows"
            )
        os.makedirs(LOGS, exist_ok=True)
        shutil.copy(picture, os.path.join(LOGS, f"screen-{width}x{height}.ppm"))
        # The tallest run of rows with light pixels: one line of text is at most a glyph tall.
        tallest = run_length = 0
        for y in range(height):
            lit_row = any(pixels[(y * width + x) * 3] > 128 for x in range(0, width, 2))
            run_length = run_length + 1 if lit_row else 0
            tallest = max(tallest, run_length)
        glyph_height = font_defines()["FONT_HEIGHT"]
        if not 12 * font_scale <= tallest <= glyph_height * font_scale:
            raise RuntimeError(
                f"the text on the {width}x{height} screen is {tallest} pixels tall, not a "
                f"{font_scale}x font (at most {glyph_height * font_scale})"
            )
        run.serial.sendall(then_type.encode() + b"\r")

    return action


def scroll_without_torn_glyphs(run):
    """Runner action: while the kernel prints line after line (test=screen-scroll), stop the
    machine now and then, take a screendump and read it back with the font: at most one cell (the
    one being drawn when it stopped) may be anything but a whole glyph. (Stopped, because QEMU
    copies the screen while the CPU goes on drawing otherwise.) At the end the last lines must be
    on the screen, in order."""
    wait_for(run.log, r"# scroll: start", run.deadline)
    dumps = 0
    while "# scroll: done" not in run.log() and time.time() < run.deadline:
        run.qmp.command("stop")
        torn = framebuffer_text(run).count("?")
        run.qmp.command("cont")
        dumps += 1
        time.sleep(0.1)  # let it scroll on between dumps
        if torn > 1:
            raise RuntimeError(
                f"screendump {dumps} while scrolling has {torn} cells that are not whole glyphs"
            )
    if dumps < 3:
        raise RuntimeError(f"only {dumps} screendumps while the screen scrolled")
    last = [line for line in framebuffer_text(run).splitlines() if line.startswith("scroll line")][
        -3:
    ]
    if last != [
        f"scroll line {i} of 300: the quick brown fox jumps over the lazy dog {i * 7}"
        for i in (298, 299, 300)
    ]:
        raise RuntimeError(f"the screen ends with {last}, not lines 298-300")


SCENARIOS = [
    Scenario(
        "screen",
        "",
        "uefi",
        expect="poweroff",
        serial_input=True,
        action=screen_shows_text("poweroff"),
        must=[r"screen framebuffer 800x600x(24|32), 100x37 characters", r"nmilab> poweroff"],
    ),
    Scenario(
        "screen-1920x1080",
        "",
        "uefi",
        expect="poweroff",
        serial_input=True,
        gfxpayload="1920x1080",
        action=screen_shows_text("poweroff", font_scale=2),
        must=[r"screen framebuffer 1920x1080x32, 120x33 characters", r"nmilab> poweroff"],
    ),
    Scenario(
        "screen-scroll",
        "test=screen-scroll",
        "uefi",
        gfxpayload="1920x1080",
        action=scroll_without_torn_glyphs,
        timeout=120,
    ),
    Scenario(
        "screen",
        "",
        "bios",
        expect="poweroff",
        serial_input=True,
        action=screen_shows_text("poweroff"),
        must=[r"screen vga text 80x25"],
    ),
]
