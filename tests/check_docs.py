#!/usr/bin/env python3
"""Checks that the docs name only things that exist: every backticked path, make target, shell
command, kernel option, scenario, user program and kernel symbol in README.md, docs/*.md and
docs/labs/*.md, the `make`/`python3` lines and `nmilab>` prompts of their code blocks, and the
function names in the backtraces they show. One line per stale reference, exit 1 if any.

    python3 tests/check_docs.py [FILE.md ...]     (needs build/kernel.elf: make builds it)

Names come from the tree itself (tests/docs_names.py), so moving or renaming a thing makes the
docs that still use the old name fail here."""
import glob
import os
import re
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from docs_names import ROOT, Tree  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tools"))
from viewer_page import read_recording  # noqa: E402

# Words that are none of the things checked, each kind with why it is safe to leave unchecked.
# Instruction mnemonics and assembler directives: the CPU's and NASM's names, not ours.
MNEMONICS = {"iretq", "int3", "int", "swapgs", "std", "cli", "hlt", "sysretq", "syscall", "str",
             "mov", "call", "out", "ud2", "wrmsr", "push", "%ifndef", "%endif", ".pushsection"}
# Registers and the CPU's exception names.
REGISTERS = {"rax", "rbx", "rcx", "rdx", "rsp", "rbp", "rip", "rflags", "cr2", "cr3", "gs"}
EXCEPTIONS = {"#PF", "#GP", "#DB", "#NP", "#BP", "#DF", "#MC", "#UD"}
# Programs of the host, not of the tree (their path arguments are still checked).
HOST_PROGRAMS = {"apt-get", "sudo", "cd", "dd", "lsblk", "gdb", "nm", "grub-mkrescue", "bear"}
# Placeholders the docs use for "a value of your choice" (and single letters: variables, keys).
PLACEHOLDERS = {"NAME", "SYMBOL", "PROGRAM", "ADDRESS", "NUMBER", "FILE"}
# Code blocks of these kinds hold commands to type; other blocks hold output or pictures.
COMMAND_BLOCKS = {"sh", "shell", "bash", "console"}

PATH_EXTENSIONS = (".c", ".h", ".asm", ".py", ".md", ".svg", ".ld", ".cfg", ".log", ".elf", ".iso",
                   ".patch", ".sh", ".inc", ".txt", ".json", ".fd")


def is_placeholder(word):
    return word in PLACEHOLDERS or bool(re.fullmatch(r"[A-Z]|\.\.\.|…|\d+|0x[0-9a-f]+", word))


class Checker:
    def __init__(self, tree):
        self.tree = tree
        self.harness_text = "\n".join(tree.python_texts.values())

    # ---- the kinds of names ----

    def path(self, path):
        """A path in the tree; build/ paths must be made by something (the Makefile or a script
        names their first part); ../ paths (a handout's place) by the lab tool."""
        if path.startswith("/"):
            return None  # the reader's machine (/dev/sdX), not the tree
        if path.startswith("../"):
            stem = re.sub(r"[A-Z0-9]+$", "", os.path.basename(path))
            return None if stem in self.harness_text else f"{path}: nothing in the tree writes it"
        path = path.rstrip("/")
        if re.search(r"[*?]|\b[A-Z]\b", path):  # a pattern: tests/labs/lab-N/*.patch
            pattern = re.sub(r"\b[A-Z]\b", "*", path)
            found = glob.glob(os.path.join(self.tree.root, pattern))
            # A lab handout may hold no match yet: then a script must name the pattern.
            if found or path in self.harness_text:
                return None
            return f"{path}: no file matches it"
        if path in self.tree.files or path in self.tree.directories:
            return None
        if not path.startswith("build/") and os.path.exists(os.path.join(self.tree.root, path)):
            return None  # not in git yet (a file just moved), but there
        if "/" not in path and path in self.tree.basenames:
            return None
        if path.startswith("build/"):
            first = path.split("/")[1]
            producers = self.tree.makefile + self.harness_text
            if first not in producers and first.replace("build/", "") not in producers:
                return f"{path} is not made by the Makefile or the scripts"
            log = re.fullmatch(r"build/test-logs/(.+?)_[a-z]+\.log", path)
            if log and log.group(1) not in self.tree.scenarios:
                return f"{path}: {log.group(1)} is not a scenario"
            return None
        return f"{path} does not exist"

    def symbol(self, name, call=False):
        """A kernel symbol (nm build/kernel.elf); a call form may also be an inline function or
        a macro of the source, a bare name any identifier of the kernel's source (a field, a
        macro, a local the text explains)."""
        name = re.sub(r"\.(isra|constprop|part|cold)\.\d+$", "", name)
        if name in self.tree.symbols or name in self.tree.functions:
            return None
        if call:
            return f"{name}() is not a kernel symbol"
        if name.endswith("*") and any(i.startswith(name[:-1]) for i in self.tree.identifiers):
            return None  # AT_*: a family of names
        if name in self.tree.identifiers or name in self.tree.structs:
            return None
        return f"{name} is not a kernel symbol or a name in the kernel's source"

    def name(self, word):
        """A lowercase name that is not C: a scenario, shell command, user program, task, option
        value, NMI_BREAK value, make target, or a name the harness quotes (a QMP command, a Bochs
        CPU model)."""
        tree = self.tree
        option_words = set(re.findall(r"[\w-]+", " ".join(tree.kernel_options.values())))
        known = (tree.scenarios | set(tree.shell_commands) | tree.user_programs | tree.task_names
                 | option_words | tree.nmi_break_values | tree.make_targets
                 | set(tree.kernel_options) | tree.wrong_solutions)
        if word in known or word in self.tree.symbols or word in self.tree.identifiers:
            return None
        if re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), self.tree.makefile):
            return None  # the Makefile's own words: x86_64-elf-gcc
        if re.search(r"""["']%s["' ]""" % re.escape(word), self.harness_text):
            return None
        return f"{word} is not a scenario, shell command, user program or other name of the tree"

    def kernel_option(self, word):
        """key=value on the kernel command line: the key is one of kernel/cmdline.c's options,
        each alternative of the value (a|b|c) one of the values it lists (test=: a scenario)."""
        key, _, value = word.partition("=")
        options = self.tree.kernel_options
        if key not in options:
            return f"{key} is not a kernel command-line option"
        allowed = set(re.findall(r"[\w-]+", options[key]))
        for alternative in filter(None, value.split("|")):
            if is_placeholder(alternative) or alternative.isdigit():
                continue
            if key == "test" and alternative in self.tree.scenarios:
                continue
            if alternative not in allowed:
                return f"{word}: {alternative} is not a value of {key}= ({options[key]})"
        return None

    def shell_line(self, line):
        """A shell command line: the command is in the shell's table; each argument fits the
        synopsis there (a literal, or SYMBOL: a kernel symbol, PROGRAM: a user program, N)."""
        words = line.split()
        commands = self.tree.shell_commands
        if not words or words[0] not in commands:
            return f"{words[0] if words else line} is not a shell command"
        synopsis = commands[words[0]].replace("[", " ").replace("]", " ").split()
        literals = {w for part in synopsis for w in part.split("|") if w.islower()}
        for argument in words[1:]:
            if is_placeholder(argument) or argument in literals:
                continue
            if "SYMBOL" in synopsis and argument in self.tree.symbols:
                continue
            if "PROGRAM" in synopsis and argument in self.tree.user_programs:
                continue
            return f"{line}: {argument} is not an argument of {words[0]} ({commands[words[0]]})"
        return None

    def make_line(self, line):
        """make [VAR=value ...] [target ...]: targets of the Makefile, variables it reads,
        NMI_BREAK's values, and CMDLINE's kernel options."""
        try:
            words = shlex.split(line.replace("[", " ").replace("]", " "))
        except ValueError:
            return f"{line}: unbalanced quotes"
        problems = []
        for word in words[1:]:
            if "=" in word:
                variable, _, value = word.partition("=")
                if variable not in self.tree.make_variables:
                    problems.append(f"{variable} is not a Makefile variable")
                elif variable == "NMI_BREAK" and value and value not in self.tree.nmi_break_values:
                    problems.append(f"NMI_BREAK={value} is not a value the Makefile accepts")
                elif variable == "CMDLINE":
                    problems += filter(None, (self.kernel_option(w) for w in value.split()
                                              if "=" in w and w != "..."))
            elif word not in self.tree.make_targets and not word.startswith("-"):
                problems.append(f"make {word}: no such make target")
        return "; ".join(problems) or None

    def script_line(self, line):
        """python3 SCRIPT [--option ...]: the script exists and mentions each option."""
        words = line.split()
        if len(words) < 2:
            return None
        problem = self.path(words[1])
        if problem:
            return problem
        script = self.tree.python_texts.get(words[1], "")
        package = "\n".join(t for f, t in self.tree.python_texts.items() if f.startswith("tests/"))
        for option in (w for w in words[2:] if w.startswith("-")):
            if option not in script and option not in package and option != "--help":
                return f"{line}: {words[1]} has no option {option}"
        return None

    def printed(self, text):
        """Text the docs quote as output: the kernel, a script or a marker comment has it, with
        numbers and placeholders standing for a format's %d or {value}, and at most one word
        for a %s (nmi: strategy nested)."""
        pieces = []  # (regex, a word that a %s may stand for)
        for space, ellipsis, number, word, other in re.findall(
                r"(\s+)|(…|\.\.\.)|(\d+)|([A-Za-z_][\w-]*)|(.)", text):
            if space:
                pieces.append((r"\s*", False))
            elif ellipsis:
                pieces.append((r"[\s\S]{0,200}?", False))
            elif number or (word and is_placeholder(word)):
                pieces.append((r"(?:\x00|[\w.%-]+)", False))
            else:
                pieces.append((re.escape(word or other), bool(word)))
        for formatted in [None] + [i for i, (_, word) in enumerate(pieces) if word]:
            pattern = "".join("\x00" if i == formatted else p for i, (p, _) in enumerate(pieces))
            if re.search(pattern, self.tree.printed):
                return None
        return f'"{text}" is printed by nothing in the tree'

    def viewer_step(self, page, step):
        """A step of a viewer page (make viewer) that the docs send the reader to: it must be
        there and be a moment with an event, or the pages were recorded again and the docs not
        updated."""
        path = os.path.join(ROOT, "docs", "viewer", page)
        if not os.path.exists(path):
            return f"docs/viewer/{page} does not exist"
        steps = read_recording(path)["steps"]
        if not 1 <= int(step) <= len(steps) or not steps[int(step) - 1]["events"]:
            return f"step {step} of docs/viewer/{page} is no event: the pages changed (make viewer)"
        return None

    # ---- one backticked span ----

    def code_span(self, text):
        text = text.replace("\\|", "|").strip()
        words = text.split()
        if not words or text in MNEMONICS or text in EXCEPTIONS or text.lower() in REGISTERS:
            return None
        if len(text) == 1 or re.fullmatch(r"-?(0x[0-9a-fA-F]+|\d+)", text):
            return None  # a single letter (a variable, a key) or a value
        if words[0] == "nmilab>":
            return self.shell_line(" ".join(words[1:]))
        if words[0] == "make":
            return self.make_line(text)
        if words[0] == "python3":
            return self.script_line(text)
        if words[0] in HOST_PROGRAMS or words[0] in MNEMONICS:
            paths = [w for w in words[1:] if "/" in w or w.endswith(PATH_EXTENSIONS)]
            return "; ".join(filter(None, map(self.path, paths))) or None
        if words[0].startswith("-"):  # an option of QEMU or of a script
            found = words[0] in self.tree.makefile or words[0] in self.harness_text
            return None if found else f"{words[0]} is an option nothing in the tree passes"
        if words[0] == "struct" and len(words) == 2:
            return None if words[1] in self.tree.structs else f"{text} is not defined in the source"
        if text.startswith(".") and " " not in text and not text.startswith(".."):
            return None if text in self.tree.sections else f"{text} is not a section of the source"
        viewer = re.fullmatch(r"(?:docs/)?viewer/([\w-]+\.html)#step=(\d+)", text)
        if viewer:
            return self.viewer_step(*viewer.groups())
        if "=" in words[0] and len(words) == 1:
            key, _, value = text.partition("=")
            if key in self.tree.kernel_options:
                return self.kernel_option(text)
            if key in self.tree.make_variables:
                return self.make_line("make " + text)
            if key in REGISTERS:  # rip=SYMBOL+0x1, as a trace prints it
                return self.code_span(value)
            return f"{key} is not a kernel option or a Makefile variable"
        if len(words) == 1 and words[0] in self.tree.kernel_options:
            return None
        if "/" in text and len(words) == 1 or text.endswith(PATH_EXTENSIONS) and len(words) == 1:
            return self.path(text)
        call = re.fullmatch(r"([A-Za-z_]\w*)\((.*)\)", text)
        if call:
            arguments = [a for a in re.findall(r"[A-Za-z_]\w*", call.group(2))
                         if not is_placeholder(a)]
            return self.symbol(call.group(1), call=True) or self.identifiers(arguments)
        offset = re.fullmatch(r"([A-Za-z_][\w.]*)\+0x[0-9a-f]+", text)
        if offset:
            return self.symbol(offset.group(1))
        if re.search(r"->|[\[\]()*+]| - ", text) and ": " not in text:  # C: each name in it
            fields = re.findall(r"(?:->|[\w\])]\.)([A-Za-z_]\w*)", text)
            stale = [f for f in fields if f not in self.tree.members]
            if stale:
                return f"{stale[0]} is not a field of any struct in the kernel"
            return self.identifiers(re.findall(r"(?<![\w.])[A-Za-z_]\w*\*?", text))
        if len(words) == 1 and re.fullmatch(r"[A-Za-z_]\w*\*?", text):
            # C-looking (an underscore, capitals, AT_*): reported as a symbol; a plain word as a
            # name
            c_like = "_" in text or text.isupper() or text[-1] == "*"
            symbol, name = self.symbol(text), self.name(text)
            return symbol and name and (symbol if c_like else name)
        if len(words) == 1 and re.fullmatch(r"[a-z0-9][\w-]*", text):
            return self.name(text)
        if words[0] in self.tree.shell_commands and words[0] not in self.tree.scenarios:
            return self.shell_line(text)
        if all("=" in w or w in self.tree.kernel_options for w in words):
            return "; ".join(filter(None, map(self.code_span, words))) or None
        return self.printed(text)

    def identifiers(self, names):
        for name in names:
            if is_placeholder(name) or name.lower() in REGISTERS:
                continue
            problem = self.symbol(name)
            if problem:
                return problem
        return None

    def link(self, target, directory):
        """A Markdown link to a file of the tree, relative to the document's directory."""
        if re.match(r"[a-z]+:|#", target):
            return None  # a web address or a heading of the same page
        path = os.path.normpath(os.path.join(directory, target.split("#")[0]))
        return self.path(path)

    # ---- code blocks ----

    def code_block_line(self, kind, line):
        prompt = re.match(r"\s*nmilab> (.*)", line)
        if prompt:
            return self.shell_line(re.split(r"\s{2,}", prompt.group(1).strip())[0])
        backtrace = re.match(r"\s*#\d+\s+[0-9a-f]{16}\s+([A-Za-z_][\w.]*)\+0x", line)
        if backtrace:
            return self.symbol(backtrace.group(1))
        if kind in COMMAND_BLOCKS:
            command = re.sub(r"\s#.*", "", line).strip()
            if command.startswith("make"):
                return self.make_line(command)
            if command.startswith("python3"):
                return self.script_line(command)
        return None


def markdown_references(text):
    """(line number, kind, text) for every code span outside code blocks (kind None) and every
    line of a code block (kind: the block's info string)."""
    lines = text.split("\n")
    prose = []
    block = None
    for number, line in enumerate(lines, 1):
        fence = re.match(r"\s*```(\S*)", line)
        if fence:
            block = None if block is not None else fence.group(1)
            prose.append("")
        elif block is not None:
            yield number, block, line
            prose.append("")
        else:
            prose.append(line)
    joined = "\n".join(prose)
    for match in re.finditer(r"`((?:[^`\n]|\n(?!\s*\n))+)`", joined):
        yield joined.count("\n", 0, match.start()) + 1, None, match.group(1).replace("\n", " ")
    for match in re.finditer(r"\]\(([^)\s]+)\)", joined):
        yield joined.count("\n", 0, match.start()) + 1, "link", match.group(1)


def check_file(checker, path, display=None):
    problems = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for number, kind, reference in markdown_references(text):
        if kind is None:
            problem = checker.code_span(reference)
        elif kind == "link":
            problem = checker.link(reference, os.path.dirname(display or path))
        else:
            problem = checker.code_block_line(kind, reference)
        if problem:
            problems.append(f"{display or path}:{number}: {problem}")
    return problems


def doc_files(root=ROOT):
    names = ["README.md"] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    names += sorted(glob.glob(os.path.join(root, "docs", "labs", "*.md")))
    return [os.path.relpath(os.path.join(root, n), root) for n in names]


def check_pictures(tree):
    """The pictures the docs show (docs/pictures/*.svg) name kernel functions (name+0x1a): each
    must still be a kernel symbol, or the picture shows a kernel that is gone."""
    problems = []
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "pictures", "*.svg"))):
        with open(path, encoding="utf-8") as f:
            names = sorted(set(re.findall(r"\b([A-Za-z_][\w.]*)\+0x[0-9a-f]+", f.read())))
        # a local label (nmi_entry_naive.returned) counts under its function
        stale = [n for n in names if n.split(".")[0] not in tree.symbols]
        if stale:
            problems.append(f"{os.path.relpath(path, ROOT)}: {', '.join(stale)} not kernel "
                            "symbols (draw it again: make verify, then make pictures)")
    return problems


def main(argv):
    tree = Tree()
    checker = Checker(tree)
    problems = []
    names = argv or doc_files()
    for name in names:
        problems += check_file(checker, os.path.join(ROOT, name), name)
    if not argv:
        problems += check_pictures(tree)
    for problem in problems:
        print(problem)
    print(f"check_docs: {len(names)} files, {len(problems)} stale reference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
