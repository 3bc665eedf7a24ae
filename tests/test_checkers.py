#!/usr/bin/env python3
"""Host tests of the two checkers (tests/check_docs.py, tests/check_source.py): each catches a
planted bad line and passes a good one. The docs checker reads the real tree (make builds
build/kernel.elf first); the good references are made from names it discovered there, so the
test keeps working when things are renamed."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_docs  # noqa: E402
import check_source  # noqa: E402
from docs_names import Tree  # noqa: E402

TREE = None


def tree():
    global TREE
    if TREE is None:
        TREE = Tree()
    return TREE


def first(names):
    return sorted(names)[0]


class DocsChecker(unittest.TestCase):
    def problems(self, markdown):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "planted.md")
            with open(path, "w") as f:
                f.write(markdown)
            return check_docs.check_file(check_docs.Checker(tree()), path, "planted.md")

    def test_discovers_every_kind_of_name(self):
        t = tree()
        for kind in ("make_targets", "shell_commands", "kernel_options", "scenarios", "symbols",
                     "user_programs", "nmi_break_values"):
            self.assertTrue(getattr(t, kind), f"no {kind} found in the tree")
        self.assertIn("test", t.make_targets)

    def test_good_references_pass(self):
        t = tree()
        function = first(s for s in t.symbols if s in t.functions and s.isidentifier())
        good = [f"`{function}()`", f"`make {first(t.make_targets - {'FORCE'})}`",
                f"`{first(t.shell_commands)}`", f"`test={first(t.scenarios)}`",
                f"`{first(f for f in t.files if f.startswith('kernel/'))}`",
                f"`{first(t.user_programs)}`", f"`struct {first(t.structs)}`", "`iretq`",
                "`README.md`", "[a link](docs/nmi.md#several-cpus)"]
        block = (f"```\nnmilab> {first(t.shell_commands)}\n"
                 f"  #0  ffffffff80100000 {function}+0x1a\n```\n")
        self.assertEqual(self.problems(" and ".join(good) + "\n\n" + block), [])

    def test_stale_references_fail(self):
        planted = {
            "`read_byte_no_such()`": "read_byte_no_such() is not a kernel symbol",
            "`cpus[i].no_such_field`": "no_such_field is not a field of any struct",
            "`kernel/no_such_file.c`": "kernel/no_such_file.c does not exist",
            "`make no-such-target`": "make no-such-target: no such make target",
            "`nmilab> no-such-command`": "no-such-command is not a shell command",
            "`test=no-such-scenario`": "no-such-scenario is not a value of test=",
            "`nmi=no-such-strategy`": "no-such-strategy is not a value of nmi=",
            "`NMI_BREAK=no-such-check`": "NMI_BREAK=no-such-check is not a value",
            "`no_such_symbol`": "no_such_symbol is not a kernel symbol",
            "`struct no_such_struct`": "struct no_such_struct is not defined",
            "`user no-such-program`": "no-such-program is not an argument of user",
            "`no-such-scenario-name`": "no-such-scenario-name is not a scenario",
            "`no such message: 42`": "is printed by nothing in the tree",
            "[a link](no/such/file.md)": "no/such/file.md does not exist",
            "```sh\nmake run CMDLINE=test=no-such-one\n```": "no-such-one is not a value of test=",
            "```\n  #0  ffffffff80100000 no_such_fn_xyz+0x1a\n```": "no_such_fn_xyz is not a",
        }
        for markdown, expected in planted.items():
            with self.subTest(markdown=markdown):
                problems = self.problems("Text.\n\n" + markdown + "\n")
                self.assertEqual(len(problems), 1, problems)
                self.assertIn(expected, problems[0])
                line = 4 if markdown.startswith("```") else 3
                self.assertTrue(problems[0].startswith(f"planted.md:{line}: "), problems[0])


class SourceChecker(unittest.TestCase):
    def problems(self, files):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "kernel"))
            os.makedirs(os.path.join(root, "tests", "kernel"))
            with open(os.path.join(root, "tests", "kernel", "helper.h"), "w") as f:
                f.write("#pragma once\n")
            for name, text in files.items():
                with open(os.path.join(root, name), "w") as f:
                    f.write(text)
            return check_source.check(list(files), root)

    def test_good_code_passes(self):
        good = ("#include <kernel/printk.h>\n"
                "#define MAX(a, b) ((a) > (b) ? (a) : (b))\n"
                "int f(int a, int b) { return g(a ? 1 : 2, b ? 3 : 4) + (a ? b : 0); }\n"
                "int h(int a) { return a ? '?' : ':'; } /* a ? b : c ? d : e */\n"
                "const char *s = \"x ? y : z ? w : v\";\n"
                "int i(int a) { switch (a) { case 1: return a ? 2 : 3; default: return 0; } }\n"
                + "x" * 100 + "\n")
        problems, lines = self.problems({"kernel/good.c": good,
                                         "kernel/good.asm": "%include \"a.inc\"\n"})
        self.assertEqual(problems, [])
        self.assertEqual(lines, 8)

    def test_bad_lines_fail(self):
        planted = {
            "int a = 1;" + " " * 91 + "\n": "kernel/bad.c:1: line of 101 characters",
            "int f(int a) { return a ? 1 : a > 2 ? 2 : 3; }\n": "kernel/bad.c:1: chained ternary",
            "int f(int a)\n{\n    return a ? 1\n        : a > 2 ? 2\n        : 3;\n}\n":
                "kernel/bad.c:4: chained ternary",
            "int f(int a) { return a ? (a > 2 ? 2 : 3) : 4; }\n": "kernel/bad.c:1: chained ternary",
            "int f(int a) { return (a ? 1 : 2) ? 3 : 4; }\n": "kernel/bad.c:1: chained ternary",
            "#include <tests/kernel/helper.h>\n": "kernel/bad.c:1: includes tests/kernel/helper.h",
            "#include \"../tests/kernel/helper.h\"\n":
                "kernel/bad.c:1: includes ../tests/kernel/helper.h",
        }
        for text, expected in planted.items():
            with self.subTest(text=text):
                problems, _ = self.problems({"kernel/bad.c": text})
                self.assertEqual(len(problems), 1, problems)
                self.assertTrue(problems[0].startswith(expected), problems[0])
        problems, _ = self.problems({"kernel/bad.asm": '%include "tests/kernel/helper.h"\n'})
        self.assertEqual(problems,
                         ["kernel/bad.asm:1: includes tests/kernel/helper.h, a file under tests/"])

    def test_line_count_limit(self):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "kernel"))
            with open(os.path.join(root, "kernel", "big.c"), "w") as f:
                f.write("int x;\n\n" * (check_source.KERNEL_LINES_LIMIT + 1))
            problems, lines = check_source.check(["kernel/big.c"], root)
            self.assertEqual(lines, check_source.KERNEL_LINES_LIMIT + 1)
            self.assertEqual(len(problems), 1)
            self.assertIn("non-blank lines", problems[0])
            problems, _ = check_source.check(["kernel/big.c"], root, whole_kernel=False)
            self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
