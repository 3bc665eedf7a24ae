"""The names the docs may refer to, discovered from the tree (never a copy of today's names), for
tests/check_docs.py: make targets and variables, shell commands, user programs, kernel options,
scenario names, kernel symbols, identifiers in the kernel's source, and the tree's files."""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The checkers and their tests: the names planted there to be caught must not count as names.
CHECKERS = {"check_docs.py", "docs_names.py", "check_source.py", "test_checkers.py"}


def tracked_files(root=ROOT):
    """Every file git knows in the tree (relative paths), or every file on disk outside build/
    and .git/ when the tree is not a git checkout (a lab handout, say)."""
    listed = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        files = listed.stdout.split("\n")
        return [f for f in files if f and os.path.exists(os.path.join(root, f))]
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in (".git", "build")]
        found += [os.path.relpath(os.path.join(directory, n), root) for n in names]
    return found


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def c_source_without_comments(text, strings=True):
    """C text with /* */ and // comments blanked (and string literals, unless `strings`), so that
    a name in a comment does not count as a name in the code."""
    return re.sub(r'//[^\n]*|/\*.*?\*/|("(?:\\.|[^"\\\n])*")',
                  lambda m: m.group(1) if m.group(1) and strings else " ", text, flags=re.S)


def asm_without_comments(text):
    """NASM text with its ; comments blanked: a word in a comment is not a name in the code."""
    return re.sub(r";[^\n]*", " ", text)


def joined_string_literals(text):
    """C text where adjacent string literals ("ab" "cd", even across lines) are one ("abcd")."""
    return re.sub(r'"\s+"', "", text)


def pasted_names(code):
    """Names a macro makes by token pasting: DEFINE_X(n) with read_cr##n in its body, used as
    DEFINE_X(2), defines read_cr2."""
    names = set()
    for macro, parameter, body in re.findall(r"#\s*define\s+(\w+)\((\w+)\)((?:.*\\\n)*.*)", code):
        prefixes = re.findall(r"(\w+)##%s\b" % parameter, body)
        for argument in re.findall(r"\b%s\((\w+)\)" % macro, code):
            names.update(prefix + argument for prefix in prefixes)
    return names


class Tree:
    """What exists in the tree at `root`. The kernel's symbols need build/kernel.elf: `nm` reads
    them from there, so the kernel must be built first (make does it)."""

    def __init__(self, root=ROOT, kernel=None):
        self.root = root
        self.files = tracked_files(root)
        self.directories = {os.path.dirname(f) for f in self.files}
        for d in list(self.directories):
            while d:
                d = os.path.dirname(d)
                self.directories.add(d)
        self.basenames = {os.path.basename(f) for f in self.files}
        self.makefile = read(os.path.join(root, "Makefile"))
        self.kernel_texts = {f: read(os.path.join(root, f)) for f in self.files
                             if f.endswith((".c", ".h", ".asm", ".ld", ".inc"))}
        self.python_texts = {f: read(os.path.join(root, f)) for f in self.files
                             if (f.endswith(".py") or f.startswith("tools/"))
                             and os.path.basename(f) not in CHECKERS}
        self.make_targets, self.make_variables = self._make_names()
        self.nmi_break_values = self._nmi_break_values()
        self.shell_commands = self._shell_commands()
        self.user_programs = set(self._all(r'^\s*PROGRAM\s+"([^"]+)"', ".asm"))
        # The labs' known wrong solutions, by name (tests/labs/lab-N/NAME.patch): the teacher's
        # guide names them.
        self.wrong_solutions = {os.path.basename(p)[: -len(".patch")]
                                for p in glob.glob(os.path.join(ROOT, "tests/labs/lab-*/*.patch"))}
        self.task_names = set(self._all(r'\btask_create\w*\((?:[^,()]*,\s*)?"([^"]+)"', ".c"))
        self.kernel_options = self._kernel_options()
        self.scenarios = self._scenario_names()
        self.symbols = self._symbols(kernel or os.path.join(root, "build", "kernel.elf"))
        code = "\n".join(asm_without_comments(t) if f.endswith((".asm", ".inc"))
                         else c_source_without_comments(t, strings=False)
                         for f, t in self.kernel_texts.items())
        self.identifiers = set(re.findall(r"[A-Za-z_]\w*", code))
        self.functions = set(re.findall(r"\b([A-Za-z_]\w*)\s*\([^;{)]*\)\s*(?:\{|\n\s*\{)", code))
        self.functions |= set(re.findall(r"#\s*define\s+([A-Za-z_]\w*)\(", code))
        self.functions |= pasted_names(code)
        self.structs = set(re.findall(r"\bstruct\s+([A-Za-z_]\w*)\s*\{", code))
        # Fields: every name the code reaches with -> or . (designated initializers too)
        self.members = set(re.findall(r"(?:->|(?<![\w.])\.|\w\.|\]\.|\)\.)\s*([A-Za-z_]\w*)",
                                      code))
        self.sections = set(re.findall(r"(\.[a-z_][\w.]*)", "\n".join(self.kernel_texts.values())))
        # What the kernel and the scripts print (and marker comments), each %d or {value} of a
        # format made one \0 that a number or a placeholder in the docs may stand for.
        printed = "\n".join(joined_string_literals(t) for t in
                            list(self.kernel_texts.values()) + list(self.python_texts.values()))
        self.printed = re.sub(r"%[-+ #0]*\d*(?:\.\d+)?(?:ll|l|z|h)?[a-zA-Z]|\{[^{}\n]*\}", "\0",
                              printed)

    def _all(self, pattern, extension):
        names = []
        for f, text in self.kernel_texts.items():
            if f.endswith(extension):
                names += re.findall(pattern, text, flags=re.M)
        return names

    def _make_names(self):
        """Targets (rules and .PHONY, with $(BUILD) spelled build) and variables of the Makefile."""
        text = self.makefile.replace("$(BUILD)", "build")
        targets, variables = set(), set()
        for line in text.splitlines():
            if line.startswith(("\t", "#")):
                continue
            assignment = re.match(r"\s*(?:export\s+)?([A-Za-z_]\w*)\s*(?:\?=|:=|\+=|=)", line)
            if assignment:
                variables.add(assignment.group(1))
                continue
            rule = re.match(r"([^:=#]+?)\s*:(?!=)", line)
            if rule:
                targets.update(rule.group(1).split())
        phony = re.search(r"^\.PHONY:(.*)$", text, flags=re.M)
        if phony:
            targets.update(phony.group(1).split())
        # Variables read from the environment or the command line: $(NAME) or ifeq ($(NAME),...).
        variables.update(re.findall(r"\$\(([A-Z_][A-Z0-9_]*)\)", text))
        return {t for t in targets if "%" not in t and "$" not in t}, variables

    def _nmi_break_values(self):
        """NMI_BREAK's accepted values: the list the Makefile filters it against."""
        listed = re.search(r"filter \$\(NMI_BREAK\),([^)]*)\)", self.makefile)
        return set(listed.group(1).split()) if listed else set()

    def _shell_commands(self):
        """The shell's command table: {name: argument synopsis}, from the kernel's C files whose
        name says shell (a table row is {"name", "arguments", "help...", function})."""
        commands = {}
        for f, text in self.kernel_texts.items():
            if "shell" not in os.path.basename(f) or not f.endswith(".c") or f.startswith("tests/"):
                continue
            text = joined_string_literals(text)
            for name, arguments in re.findall(r'\{\s*"([^"]+)"\s*,\s*"([^"]*)"\s*,\s*"[^"]*"\s*,'
                                              r'\s*[A-Za-z_]\w*\s*\}', text):
                commands[name] = arguments
        return commands

    def _kernel_options(self):
        """The kernel command line's options: {key: values}, from kernel/cmdline.c's table."""
        text = self.kernel_texts.get("kernel/cmdline.c", "")
        table = re.search(r"known_options\[\]\s*=\s*\{(.*?)\n\};", text, flags=re.S)
        if not table:
            return {}
        return dict(re.findall(r'\{\s*"([^"]+)"\s*,\s*"([^"]*)"\s*\}', table.group(1)))

    def _scenario_names(self):
        """The kernel's scenario tables ({"name", function, in_self_test} rows in the scenario
        files) and what the test runner lists: the first word of each test and its test=NAME."""
        names = set()
        for f, text in self.kernel_texts.items():
            if re.search(r"scenario", os.path.basename(f)) and f.endswith(".c"):
                row = r'\{\s*"([^"]+)"\s*,\s*[A-Za-z_]\w*\s*,\s*(?:true|false)\s*\}'
                names.update(re.findall(row, text))
        runner = os.path.join(self.root, "tests", "run.py")
        listed = subprocess.run([sys.executable, runner, "--list"], cwd=self.root,
                                capture_output=True, text=True)
        if listed.returncode != 0:
            raise SystemExit("check_docs: tests/run.py --list failed:\n" + listed.stderr)
        for line in listed.stdout.splitlines():
            # the host-side groups ("unit tests (host)", "checks (...)") are not scenarios
            if line.strip() and not line.startswith(("unit tests ", "checks ")):
                names.add(line.split()[0])
            names.update(re.findall(r"\btest=(\S+)", line))
        return names

    @staticmethod
    def _symbols(kernel):
        if not os.path.exists(kernel):
            raise SystemExit(f"check_docs: {os.path.relpath(kernel)} is not built: run make first")
        nm = os.environ.get("NM", "nm")
        out = subprocess.run([nm, kernel], capture_output=True, text=True, check=True).stdout
        # Compiler clones (name.isra.0, name.constprop.0, name.part.0) count under their name.
        return {line.split()[-1].split(".")[0] for line in out.splitlines() if line.split()}
