"""The two speculation fences the entry code must keep, checked in the built kernel's machine code
(docs/nmi.md, "What user mode may not do"):

  - where an entry decides by a branch whether to swapgs (trap_common, debug_common,
    gs_make_kernel; nmi_from_user is reached by one), an lfence must come before the first
    GS-relative access (or the call, or the return), or a mispredicted branch runs those loads
    with the other GS (the CVE-2019-1125 class);
  - syscall_dispatch must mask the system call number with the result of its bounds check, by
    arithmetic (cmp; sbb; and), before indexing the table, so that an out-of-range number cannot
    read past it even on a mispredicted path.

Exit status 0, or 1 with one line per problem."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = os.path.join(ROOT, "build", "kernel.elf")
FENCED_ENTRIES = (
    "trap_common",
    "trap_common_ret",
    "debug_common",
    "debug_common_ret",
    "nmi_from_user",
    "gs_make_kernel",
)


def function_body(listing, name):
    """The (mnemonic, operands) of each instruction of symbol name and its local labels
    (name.something), up to the next other symbol; None if there is no such symbol."""
    body, inside = None, False
    for line in listing.splitlines():
        header = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if header:
            inside = header.group(1) == name or header.group(1).startswith(name + ".")
            if inside and body is None:
                body = []
            elif not inside and body is not None:
                break
            continue
        parts = line.split("\t")
        if inside and len(parts) >= 2 and parts[-1].strip():
            words = parts[-1].split(None, 1)
            body.append((words[0], words[1] if len(words) > 1 else ""))
    return body


def fence_problem(name, body):
    """None if an lfence follows the swapgs decision before the first %gs: access."""
    decided = False
    for mnemonic, operands in body:
        if mnemonic == "swapgs" or mnemonic.startswith("j"):
            decided = True
        elif mnemonic == "lfence":
            decided = False
        if "%gs:" in operands or mnemonic in ("call", "ret"):
            if decided:
                return f"{name}: no lfence between its swapgs decision and '{mnemonic} {operands}'"
            return None
    return f"{name}: no GS access, call or return found"


def nospec_problem(body):
    """None if the table index is masked with the sbb result of a bounds check."""
    masks = set()
    for mnemonic, operands in body:
        if mnemonic == "sbb":
            masks.add(operands.split(",")[-1])
        if mnemonic == "and" and operands.split(",")[0] in masks:
            masks.add("masked " + operands.split(",")[-1])
        table = re.search(r"\(,(%\w+),8\)", operands)
        if mnemonic == "mov" and table:
            if "masked " + table.group(1) in masks:
                return None
            return f"syscall_dispatch: the table is indexed by {table.group(1)}, not masked first"
    return "syscall_dispatch: no table load found"


def main():
    if not os.path.exists(KERNEL):
        print(f"check_speculation: {KERNEL} is missing: run make first")
        return 1
    listing = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", KERNEL], capture_output=True, text=True, check=True
    ).stdout
    problems = []
    for name in FENCED_ENTRIES:
        body = function_body(listing, name)
        problems.append(fence_problem(name, body) if body else f"{name}: not in the kernel")
    body = function_body(listing, "syscall_dispatch")
    problems.append(nospec_problem(body) if body else "syscall_dispatch: not in the kernel")
    problems = [p for p in problems if p]
    for p in problems:
        print(p)
    print(f"check_speculation: {len(FENCED_ENTRIES)} entries, 1 table; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
