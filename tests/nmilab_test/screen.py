"""Reading the screen back, as a person would see it: the VGA text screen (BIOS) from guest
memory, and a framebuffer (UEFI) from a QMP screendump, each character cell matched against the
kernel's own font. The font's bitmaps come from kernel/font.c, its size and the rule that draws it
twice the size on a large screen from include/kernel/font.h: the kernel is built from the same
lines."""
import functools
import os
import re

from .paths import ROOT


def screendump(run):
    """A QMP screendump: (its file, width, height, the RGB bytes)."""
    picture = os.path.join(os.path.dirname(run.gdb_path), "screen.ppm")
    reply = run.qmp.command("screendump", filename=picture)
    if "error" in reply:
        raise RuntimeError(f"screendump: {reply['error']}")
    with open(picture, "rb") as f:
        data = f.read()
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    return picture, int(header.group(1)), int(header.group(2)), data[header.end() :]


@functools.cache
def font_defines():
    """The FONT_* #defines of include/kernel/font.h, as {name: number} (a character constant
    such as ' ' as its code)."""
    with open(os.path.join(ROOT, "include", "kernel", "font.h")) as f:
        defines = re.findall(r"^#define (FONT_\w+) (\d+|'.')", f.read(), re.M)
    return {name: ord(value[1]) if value.startswith("'") else int(value) for name, value in defines}


def font_scale(width, height):
    """Screen pixels per font pixel on a width x height framebuffer, by the kernel's rule."""
    font = font_defines()
    large = width >= font["FONT_DOUBLE_FROM_WIDTH"] and height >= font["FONT_DOUBLE_FROM_HEIGHT"]
    return 2 if large else 1


@functools.cache
def font_glyphs():
    """The kernel's font (kernel/font.c) as {FONT_HEIGHT row bytes: character}."""
    font = font_defines()
    row = r"\{((?:0x[0-9a-f]{2}, ?){%d}0x[0-9a-f]{2})\}" % (font["FONT_HEIGHT"] - 1)
    with open(os.path.join(ROOT, "kernel", "font.c")) as f:
        rows = re.findall(row, f.read())
    return {
        bytes(int(b, 16) for b in row.split(",")): chr(font["FONT_FIRST"] + i)
        for i, row in enumerate(rows)
    }


def framebuffer_text(run):
    """The text on a framebuffer screen (UEFI), read back from a QMP screendump by matching each
    character cell against the kernel's own font, at 1x or 2x. Unknown cells read as '?'."""
    _, width, height, pixels = screendump(run)
    scale = font_scale(width, height)
    glyphs = font_glyphs()
    glyph_width, glyph_height = font_defines()["FONT_WIDTH"], font_defines()["FONT_HEIGHT"]
    lines = []
    for row in range(height // (glyph_height * scale)):
        line = ""
        for column in range(width // (glyph_width * scale)):
            top, left = row * glyph_height, column * glyph_width
            cell = bytes(
                sum(
                    0x80 >> x
                    for x in range(glyph_width)
                    if pixels[(((top + y) * scale) * width + (left + x) * scale) * 3] > 128
                )
                for y in range(glyph_height)
            )
            line += glyphs.get(cell, "?")
        lines.append(line.rstrip())
    return "\n".join(lines)


def screen_text(run):
    """The characters of the 80x25 VGA text screen (BIOS boots keep it), from guest memory."""
    dump = os.path.join(os.path.dirname(run.gdb_path), "vga.bin")
    reply = run.qmp.command("pmemsave", val=0xB8000, size=4000, filename=dump)
    if "error" in reply:
        raise RuntimeError(f"pmemsave: {reply['error']}")
    with open(dump, "rb") as f:
        cells = f.read()
    return "\n".join(cells[row * 160 : (row + 1) * 160 : 2].decode("latin-1") for row in range(25))
