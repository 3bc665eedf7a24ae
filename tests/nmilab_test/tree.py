"""Copies of this tree: the files it is made of, a student's handout (a lab's solutions taken out
where the source marks them), and a copy with an NMI_BREAK kernel built in it.

Solution code in the source is marked for a lab:

    /* LAB 2 BEGIN: look the faulting instruction up in the exception table */
    ... the solution ...
    /* LAB 2 STUB */
    //| return false;          <- what the handout has instead, commented out here
    /* LAB 2 END */

(in assembly: ; LAB 2 BEGIN: ..., ; LAB 2 STUB, ;| ..., ; LAB 2 END)
"""
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

from .paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
from viewer_page import hide_solutions  # noqa: E402

MARK = re.compile(r"^(\s*)(?:/\*|;) LAB (\d+) (BEGIN|STUB|END)(?::\s*(.*?))?\s*(?:\*/)?\s*$")
STUB_LINE = re.compile(r"^(\s*)(?://|;)\| ?(.*)$")


def tracked_files(root=ROOT):
    """The project's files: git's list, or (in a tree that is not a git checkout) every file
    outside build/."""
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True)
        if listed.returncode == 0 and listed.stdout.strip():
            return listed.stdout.split()
    except FileNotFoundError:  # no git on this machine
        pass
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in ("build", ".git")]
        files += [os.path.relpath(os.path.join(directory, n), root) for n in names]
    return files


def todo_comment(indent, lab, title, asm):
    """The TODO a handout puts where a lab's solution was, wrapped to the kernel's 100 columns
    (tests/check_source.py holds a student's tree to them too)."""
    words = f"TODO(lab {lab}): {title}. See docs/labs/lab-{lab}.md.".split()
    lead, more = (f"{indent}; ", f"{indent}; ") if asm else (f"{indent}/* ", f"{indent} * ")
    close = "" if asm else " */"
    lines, line = [], lead
    for word in words:
        if line.strip(" ;/*") and len(line) + len(word) + len(close) + 1 > 100:
            lines.append(line.rstrip() + "\n")
            line = more
        line += ("" if line.endswith(" ") else " ") + word
    lines.append(line + close + "\n")
    return lines


def handout_text(text, first_lab, path):
    """The file with the marked regions of lab `first_lab` and of every later lab replaced by their
    stubs (and a TODO); earlier labs' regions stay as they are. Returns (text, labs replaced)."""
    out, state, lab, replaced = [], None, None, set()
    asm = path.endswith((".asm", ".inc"))
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        m = MARK.match(line)
        if m and int(m.group(2)) >= first_lab:
            indent, kind = m.group(1), m.group(3)
            expected = {"BEGIN": None, "STUB": "solution", "END": "stub"}[kind]
            if state != expected or (lab is not None and lab != int(m.group(2))):
                raise SystemExit(f"{path}:{number}: LAB {m.group(2)} {kind} out of order")
            if kind == "BEGIN":
                state, lab, title = "solution", int(m.group(2)), m.group(4) or "your code here"
                out += todo_comment(indent, lab, title, asm)
                replaced.add(lab)
            elif kind == "STUB":
                state = "stub"
            else:
                state, lab = None, None
            continue
        if state == "solution":
            continue
        if state == "stub":
            s = STUB_LINE.match(line)
            if not s:
                raise SystemExit(
                    f"{path}:{number}: a line in LAB {lab}'s stub does not start with //| or ;|"
                )
            out.append(s.group(1) + s.group(2) + "\n")
            continue
        out.append(line)
    if state:
        raise SystemExit(f"{path}: LAB {lab} not closed")
    return "".join(out), replaced


def marked_labs():
    """lab number -> the files where this tree marks its solution (none in a handout of that
    lab)."""
    found = {}
    for path in tracked_files():
        if path.endswith((".c", ".h", ".asm", ".inc")):
            with open(os.path.join(ROOT, path)) as f:
                for line in f:
                    m = MARK.match(line)
                    if m and m.group(3) == "BEGIN":
                        found.setdefault(int(m.group(2)), []).append(path)
    return found


def write_tree(destination, first_lab=None, with_objects=False):
    """This tree's files into destination, with lab `first_lab` and later labs taken out (None:
    none). with_objects copies this tree's object files too (timestamps kept, so that only what
    changed is compiled again): for the checks make test runs, never for a student."""
    shutil.rmtree(destination, ignore_errors=True)
    for path in tracked_files():
        wrong_solution = re.match(r"tests/labs/lab-(\d+)/", path)
        if first_lab is not None and wrong_solution and int(wrong_solution.group(1)) >= first_lab:
            continue
        if first_lab is not None and path == "docs/labs/teaching.md":  # it tells the mistakes
            continue
        target = os.path.join(destination, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, path), target)
        if first_lab is not None and path.endswith((".c", ".h", ".asm", ".inc")):
            with open(target) as f:
                text, replaced = handout_text(f.read(), first_lab, path)
            if replaced:
                with open(target, "w") as f:
                    f.write(text)
        if first_lab is not None and re.match(r"docs/viewer/\w+-\w+\.html$", path):
            # the viewer's pages carry the kernel's source, and show its instructions
            with open(target) as f:
                text = hide_solutions(f.read(), first_lab, handout_text)
            with open(target, "w") as f:
                f.write(text)
    if with_objects:
        build = os.path.join(ROOT, "build")
        for directory, _, files in os.walk(build):
            for name in files:
                if (
                    name.endswith((".o", ".d", ".inc", ".s", ".c", ".txt", ".elf"))
                    and "test-" not in directory
                ):
                    relative = os.path.relpath(os.path.join(directory, name), ROOT)
                    os.makedirs(os.path.dirname(os.path.join(destination, relative)), exist_ok=True)
                    shutil.copy2(os.path.join(ROOT, relative), os.path.join(destination, relative))


@contextlib.contextmanager
def tree_with_break(name):
    """A copy of this tree (its object files too) with the NMI_BREAK=name kernel built in it, for
    make test's historical checks and make verify's mutants. Yields (tree, why it did not build)."""
    tree = tempfile.mkdtemp(prefix=f"nmilab-{name}-")
    try:
        write_tree(tree, with_objects=True)
        build = subprocess.run(
            ["make", "-s", "-C", tree, f"NMI_BREAK={name}", "build/kernel.elf"],
            capture_output=True,
            text=True,
        )
        failure = f"NMI_BREAK={name}: does not build: {build.stderr.strip()[-200:]}"
        yield tree, build.returncode and failure
    finally:
        shutil.rmtree(tree, ignore_errors=True)
