"""The kernel image the tests boot, build/kernel.elf: its symbols and instructions, read with nm
and objdump."""
import os
import re
import struct
import subprocess

from .paths import KERNEL, ROOT


def symbol(name):
    """The address of a kernel symbol (KeyError if there is none)."""
    out = subprocess.run(["nm", KERNEL], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise KeyError(name)


def symbol_extent(name):
    """(address, size in bytes) of a kernel object with a size, such as a static table (KeyError
    if there is none)."""
    out = subprocess.run(["nm", "-S", KERNEL], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[0], 16), int(parts[1], 16)
    raise KeyError(name)


def image_bytes(address, size):
    """size bytes at a linked address, as the kernel's loadable segments hold them before it runs
    (the initial values of its tables and strings)."""
    with open(KERNEL, "rb") as f:
        image = f.read()
    (table,) = struct.unpack_from("<Q", image, 0x20)  # e_phoff
    entry_size, count = struct.unpack_from("<HH", image, 0x36)  # e_phentsize, e_phnum
    for i in range(count):
        header = struct.unpack_from("<IIQQQQ", image, table + i * entry_size)
        kind, offset, start, file_size = header[0], header[2], header[3], header[5]
        if kind == 1 and start <= address and address + size <= start + file_size:  # PT_LOAD
            return image[offset + address - start : offset + address - start + size]
    raise KeyError(f"{address:#x}: not in the kernel image's loaded contents")


def image_string(address, longest=256):
    """The NUL-terminated string at a linked address (at most longest bytes)."""
    text = b""
    while b"\0" not in text and len(text) < longest:
        text += image_bytes(address + len(text), 1)
    return text.split(b"\0")[0].decode()


def instructions(start, end):
    """The addresses of the kernel's instructions from symbol `start` up to symbol `end`."""
    low, high = symbol(start), symbol(end)
    out = subprocess.run(
        [
            "objdump",
            "-d",
            "--no-show-raw-insn",
            f"--start-address={low}",
            f"--stop-address={high}",
            KERNEL,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [int(m.group(1), 16) for m in re.finditer(r"^\s*([0-9a-f]+):\s", out, re.M)]


def disassemble_one(address):
    """The mnemonic of the instruction at address."""
    out = subprocess.run(
        [
            "objdump",
            "-d",
            "--no-show-raw-insn",
            f"--start-address={address}",
            f"--stop-address={address + 1}",
            KERNEL,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.findall(r"^\s*[0-9a-f]+:\s+(\S+)", out, re.M)[-1]


def function_symbols(kernel):
    """The kernel's text symbols, [(address, name)] by address. Like the kernel's own table
    (tools/mksyms.sh), a mark of linker.ld (noprobe_start, ...) gives way to a function at the
    same address."""
    with open(os.path.join(ROOT, "linker.ld")) as f:
        marks = set(re.findall(r"^\s*([a-z_]+) = \.\s*;", f.read(), re.M))
    out = subprocess.run(["nm", "-n", kernel], capture_output=True, text=True).stdout
    found = [
        (int(p[0], 16), p[2])
        for p in (line.split() for line in out.splitlines())
        if len(p) == 3 and p[1] in "tT"
    ]
    functions = {a for a, name in found if name not in marks}
    return [(a, name) for a, name in found if name not in marks or a not in functions]


def name_in(symbols, address):
    """function+offset for an address from function_symbols(), or None."""
    best = None
    for start, name in symbols:
        if start > address:
            break
        best = (name, address - start)
    return f"{best[0]}+{best[1]:#x}" if best else None


def mnemonics(kernel):
    """address -> mnemonic of every instruction of the kernel (objdump)."""
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", kernel], capture_output=True, text=True
    ).stdout
    return {
        int(m.group(1), 16): m.group(2) for m in re.finditer(r"^\s*([0-9a-f]+):\s+(\S+)", out, re.M)
    }


_symbols = []


def symbol_name(address):
    """function+offset for an address of this tree's kernel, or '?'."""
    if not _symbols:
        _symbols.extend(function_symbols(KERNEL))
    return name_in(_symbols, address) or "?"
