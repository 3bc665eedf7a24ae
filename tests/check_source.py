#!/usr/bin/env python3
"""Checks the kernel proper (the git-tracked files under boot/, arch/, kernel/ and include/, and
linker.ld) for what makes code hard to read or ties it to the tests:

  - a line over 100 characters;
  - a chained ternary: a ?: whose branch is itself a ?: (a ? b : c ? d : e), found per
    statement, so also when it spans lines;
  - an #include (C) or %include (NASM) of a file under tests/;
  - more than 6,000 non-blank lines in all (the count is printed). The font's bitmaps
    (kernel/font.c) are data, not code a reader reads: they are held to the line length but
    not counted, as they never were.

One line per problem, exit 1 if any.   python3 tests/check_source.py [FILE ...]"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL_PROPER = ("boot/", "arch/", "kernel/", "include/", "linker.ld")
LINE_LIMIT = 100
KERNEL_LINES_LIMIT = 6000
NOT_COUNTED = ("kernel/font.c",)  # data: 95 rows of glyph bitmaps


def kernel_proper_files(root=ROOT):
    """The kernel proper's files: git's, new ones not yet added included; in a tree that is not a
    git checkout (a lab handout), every file under those folders."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             *KERNEL_PROPER], cwd=root, capture_output=True, text=True)
    if listed.returncode == 0:
        files = listed.stdout.split("\n")
    else:
        files = [p for p in KERNEL_PROPER if os.path.isfile(os.path.join(root, p))]
        for top in (p for p in KERNEL_PROPER if p.endswith("/")):
            for directory, _, names in os.walk(os.path.join(root, top)):
                files += [os.path.relpath(os.path.join(directory, n), root) for n in names]
    return sorted({f for f in files if f and os.path.isfile(os.path.join(root, f))})


def c_code_only(text):
    """C text with comments, string and character literals blanked (newlines kept), so that a ?
    or : inside them is not an operator and line numbers stay right."""
    def blank(match):
        kept = match.group(0)
        if kept.startswith(("/*", "//")):
            return re.sub(r"[^\n]", " ", kept)
        return kept[0] + re.sub(r"[^\n]", " ", kept[1:-1]) + kept[-1]
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', blank, text,
                  flags=re.S)


def chained_ternaries(text):
    """Line numbers of each ? that opens a ?: inside a branch of another ?: of the same
    statement. A ?: ends at the , ; or closing bracket of its own depth; a preprocessor line is
    a statement of its own."""
    code = c_code_only(text)
    found = []
    open_ternaries = []  # (bracket depth, in its else branch) of each ?: not yet ended
    # depths at which a bracketed ?: has ended since the last , or ;: a ? there makes
    # (a ? b : c) ? d : e, a ?: in the condition of another
    closed_inside = set()
    depth, line, line_start = 0, 1, True
    for i, char in enumerate(code):
        if char == "\n":
            line += 1
            if code[i - 1] != "\\" and line_start_directive(code, i):
                open_ternaries.clear()  # the end of a #define or #if line
            line_start = True
            continue
        if line_start and char == "#":
            open_ternaries.clear()
        if not char.isspace():
            line_start = False
        if char == "?":
            if open_ternaries or depth in closed_inside:
                found.append(line)
            closed_inside.discard(depth)
            open_ternaries.append([depth, False])
        elif char == ":" and open_ternaries and open_ternaries[-1][0] == depth:
            if not open_ternaries[-1][1]:
                open_ternaries[-1][1] = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            while open_ternaries and open_ternaries[-1][0] > depth:
                open_ternaries.pop()
                closed_inside.add(depth)
            closed_inside = {d for d in closed_inside if d <= depth}
        elif char in ",;":
            while open_ternaries and open_ternaries[-1][0] >= depth:
                open_ternaries.pop()
            closed_inside = {d for d in closed_inside if d < depth}
    return found


def line_start_directive(code, newline):
    """Whether the line that ends at code[newline] is a preprocessor directive."""
    start = code.rfind("\n", 0, newline) + 1
    return code[start:newline].lstrip().startswith("#")


def tests_includes(path, text, root=ROOT):
    """(line number, name) of each #include/%include in `path` that reaches a file under tests/
    (spelled tests/..., or relative to the file or to the include directories)."""
    found = []
    pattern = r'^\s*(?:#\s*include|%include)\s*[<"]([^>"]+)[>"]'
    for number, line in enumerate(text.split("\n"), 1):
        match = re.match(pattern, line)
        if not match:
            continue
        name = match.group(1)
        candidates = [os.path.join(os.path.dirname(path), name), os.path.join("include", name),
                      name]
        for candidate in candidates:
            normal = os.path.normpath(candidate)
            if normal.startswith("tests" + os.sep) and (os.path.exists(os.path.join(root, normal))
                                                          or name.startswith(("tests/", "../"))):
                found.append((number, name))
                break
    return found


def check(files, root=ROOT, whole_kernel=True):
    """(problems, non-blank line count) for these files (paths relative to root); for the whole
    kernel, the line budget too."""
    problems, lines = [], 0
    for path in files:
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for number, line in enumerate(text.split("\n"), 1):
            if len(line) > LINE_LIMIT:
                problems.append(f"{path}:{number}: line of {len(line)} characters "
                                f"(at most {LINE_LIMIT})")
            lines += bool(line.strip()) and path not in NOT_COUNTED
        if path.endswith((".c", ".h")):
            for number in chained_ternaries(text):
                problems.append(f"{path}:{number}: chained ternary (a ?: in a branch of a ?:)")
        for number, name in tests_includes(path, text, root):
            problems.append(f"{path}:{number}: includes {name}, a file under tests/")
    if whole_kernel and lines > KERNEL_LINES_LIMIT:
        problems.append(f"the kernel proper has {lines} non-blank lines "
                        f"(at most {KERNEL_LINES_LIMIT})")
    return problems, lines


def main(argv):
    files = argv or kernel_proper_files()
    problems, lines = check(files, whole_kernel=not argv)
    for problem in problems:
        print(problem)
    print(f"check_source: the kernel proper has {lines} non-blank lines "
          f"(limit {KERNEL_LINES_LIMIT}); {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
