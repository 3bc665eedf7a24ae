#!/usr/bin/env python3
"""The labs: handouts and grading.

Solution code in the source is marked for a lab:

    /* LAB 2 BEGIN: look the faulting instruction up in the exception table */   (asm: ; LAB 2 BEGIN: ...)
    ... the solution ...
    /* LAB 2 STUB */                                                             (asm: ; LAB 2 STUB)
    //| return false;          <- what the handout has instead (asm: ;| ...), commented out here
    /* LAB 2 END */                                                              (asm: ; LAB 2 END)

    tools/labs.py handout N [DIR]   writes a student tree for lab N (default ../nmilab-lab-N, beside
                              this tree, never inside it): lab N's solutions and every later lab's
                              replaced by TODO comments and stubs that still compile, earlier labs
                              left solved, no build products and no known wrong solutions of lab N
                              or later (their diffs would show the answer)
    tools/labs.py grade N     runs lab N's scenarios on this tree's kernel; prints "score: X/Y"
    tools/labs.py list        the labs

The graders are tested like the kernel: tests/labs/lab-N/*.patch are known wrong solutions of
lab N (plausible ones that students write), and make test checks that each fails lab N's grade.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

LABS = {
    1: ("Boot and the IDT", ["boot [bios]", "panic-fault [bios]"]),
    # Each lab's grade passes with the labs before it solved and the later ones still stubs (make
    # test checks that): lab 2's NMI scenario runs under latch, which needs nothing of lab 4.
    2: ("Page faults and the exception table", ["nofault [bios]", "nmi-pf-nested nmi=latch [bios]"]),
    3: ("Watch the naive handler break", ["nmi-pf-nested nmi=naive [bios]", "nmi-int3-nested nmi=naive [bios]",
                                         "nmi-pf-nested nmi=naive-raw [bios]"]),
    4: ("Write the nested-NMI detection", ["nmi-pf-nested nmi=nested [bios]", "nmi-int3-nested nmi=nested [bios]",
                                          "nmi-repeat-window nmi=nested [bios]", "nmi-iret-window nmi=nested [bios]",
                                          "nmi-repeat-window-all nmi=nested [bios]", "nmi-exit-window-all nmi=nested [bios]",
                                          "nmi-first-on-nmi-stack nmi=nested [bios]"]),
    5: ("CR2 and the watchdog", ["nmi-cr2 nmi=nested [bios]", "watchdog-dump nmi=nested [bios]"]),
    6: ("kprobes in NMI", ["kprobe-nmi nmi=nested [bios]", "kprobe-nmi nmi=latch [bios]"]),
    7: ("NMIs from user mode", ["user-mode [bios]", "user-nmi-fault-return [bios]", "user-nmi-storm [bios]"]),
}
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
                todo = f"TODO(lab {lab}): {title}. See docs/labs/lab-{lab}.md."
                out.append(f"{indent}; {todo}\n" if asm else f"{indent}/* {todo} */\n")
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
                raise SystemExit(f"{path}:{number}: a line in LAB {lab}'s stub does not start with //| or ;|")
            out.append(s.group(1) + s.group(2) + "\n")
            continue
        out.append(line)
    if state:
        raise SystemExit(f"{path}: LAB {lab} not closed")
    return "".join(out), replaced


def marked_labs():
    """lab number -> the files where this tree marks its solution (none in a handout of that lab)."""
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
        target = os.path.join(destination, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, path), target)
        if first_lab is not None and path.endswith((".c", ".h", ".asm", ".inc")):
            with open(target) as f:
                text, replaced = handout_text(f.read(), first_lab, path)
            if replaced:
                with open(target, "w") as f:
                    f.write(text)
    if with_objects:
        build = os.path.join(ROOT, "build")
        for directory, _, files in os.walk(build):
            for name in files:
                if name.endswith((".o", ".d", ".inc", ".s", ".c", ".txt", ".elf")) and "test-" not in directory:
                    relative = os.path.relpath(os.path.join(directory, name), ROOT)
                    os.makedirs(os.path.dirname(os.path.join(destination, relative)), exist_ok=True)
                    shutil.copy2(os.path.join(ROOT, relative), os.path.join(destination, relative))


def handout(lab, destination=None):
    """Writes the student tree for lab `lab`; returns its path and the files with its TODOs."""
    files = marked_labs().get(lab)
    if not files:
        raise SystemExit(f"labs: this tree has no LAB {lab} markers (a handout of lab {lab} or later?)")
    destination = os.path.abspath(destination or os.path.join(os.path.dirname(ROOT), f"nmilab-lab-{lab}"))
    if os.path.commonpath([destination, ROOT]) == ROOT:
        raise SystemExit(f"labs: {destination} is inside this tree; a handout goes outside it (make handout LAB={lab} DIR=...)")
    if os.path.exists(destination):
        raise SystemExit(f"labs: {destination} exists; remove it or name another (make handout LAB={lab} DIR=...)")
    write_tree(destination, lab)
    return destination, files


def grade(lab, first_failure=False, quiet=False):
    """Runs lab `lab`'s scenarios on this tree's kernel; returns (score, total). first_failure
    stops at the first failing scenario and gives each 6 s (for checking that a handout fails)."""
    import run
    wanted = LABS[lab][1]
    scenarios = [s for s in run.SCENARIOS if s.id in wanted]
    if first_failure:
        for s in scenarios:
            s.timeout = min(s.timeout, 6)  # a handout that hangs is failing: no need to wait longer
    score = 0
    for s in scenarios:
        ok, reason, seconds, log = run.run_scenario(s)
        log_file = run.keep_log(s, ok, log)
        score += ok
        if not quiet:
            print(f"{'ok  ' if ok else 'FAIL'} {s.id}" + ("" if ok else f": {reason} (log: {os.path.relpath(log_file, ROOT)})"),
                  flush=True)
        if not ok and first_failure:
            break
    return score, len(scenarios)


def wrong_solutions(lab):
    return sorted(glob.glob(os.path.join(ROOT, "tests", "labs", f"lab-{lab}", "*.patch")))


def build_and_grade(destination, lab, first_failure):
    """Builds the tree in destination and grades lab `lab` there. Returns (score, total, the
    grader's first FAIL line or what went wrong)."""
    build = subprocess.run(["make", "-s", "-C", destination, "build/kernel.elf"], capture_output=True, text=True)
    if build.returncode:
        return None, None, "does not build: " + (build.stderr.strip().splitlines() or ["?"])[-1]
    graded = subprocess.run([sys.executable, os.path.join(destination, "tools", "labs.py"), "grade", str(lab)]
                            + (["--first-failure"] if first_failure else []), capture_output=True, text=True)
    score = re.search(r"score (\d+)/(\d+)", graded.stdout)
    failure = next((line for line in graded.stdout.splitlines() if line.startswith("FAIL")), "")
    if not score:
        return None, None, "the grader printed no score: " + (graded.stdout + graded.stderr)[-200:]
    return int(score.group(1)), int(score.group(2)), re.sub(r" [(]log: [^)]*[)]", "", failure)


def grade_wrong_solution(lab, patch):
    """This tree with one known wrong solution of lab `lab` applied, graded. Returns (caught, what
    the grader said)."""
    name = os.path.basename(patch)[:-len(".patch")]
    destination = tempfile.mkdtemp(prefix=f"nmilab-lab{lab}-{name}-")
    try:
        write_tree(destination, with_objects=True)
        applied = subprocess.run(["patch", "-s", "-p1", "-i", patch], cwd=destination, capture_output=True, text=True)
        if applied.returncode:
            return False, f"{name}: the patch does not apply: {(applied.stdout + applied.stderr).strip()[-150:]}"
        score, total, failure = build_and_grade(destination, lab, first_failure=True)
        if score is None or score == total:
            return False, f"{name}: " + (failure or "passes the grade")
        return True, f"{name}: {failure}"
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def check(lab, results):
    """For make test: lab `lab`'s handout (this lab and later ones taken out) builds and fails its
    grade; the same tree with only later labs taken out (a student who has solved this lab) passes
    it, and so does this tree (results: scenario id -> passed, from the run that just happened);
    each known wrong solution fails it. In a handout tree, where lab `lab` has no markers, only
    the grade is reported. Returns (ok, message)."""
    title, wanted = LABS[lab]
    missing = [i for i in wanted if i not in results]
    if missing:
        return False, f"its scenarios did not run: {', '.join(missing)}"
    score = sum(results[i] for i in wanted)
    marked = marked_labs()
    if lab not in marked:
        return score == len(wanted), f"score {score}/{len(wanted)} (this tree is a lab {lab} handout, or later)"
    if score != len(wanted):
        return False, f"this tree scores {score}/{len(wanted)} on it"
    checks = [("the handout", lab, False)]
    if any(later > lab for later in marked):
        checks.append(("the handout with lab {lab} solved", lab + 1, True))
    said = []
    for what, first_lab, must_pass in checks:
        destination = tempfile.mkdtemp(prefix=f"nmilab-handout{lab}-")
        try:
            write_tree(destination, first_lab, with_objects=True)
            got, total, failure = build_and_grade(destination, lab, first_failure=not must_pass)
        finally:
            shutil.rmtree(destination, ignore_errors=True)
        what = what.format(lab=lab)
        if got is None:
            return False, f"{what} {failure}"
        if must_pass and got != total:
            return False, f"{what} scores {got}/{total}: {failure}"
        if not must_pass and got == total:
            return False, f"{what} passes its own grade ({got}/{total}): the TODO is not needed"
        said.append(f"{what} scores {got}/{total}" if must_pass else f"{what} builds and fails its grade")
    wrong = [grade_wrong_solution(lab, patch) for patch in wrong_solutions(lab)]
    caught = sum(ok for ok, _ in wrong)
    message = "; ".join(said) + f"; this tree scores {score}/{len(wanted)}"
    if wrong:
        message += f"; known wrong solutions caught: {caught}/{len(wrong)}" + "".join(f"\n{m}" for _, m in wrong)
    return caught == len(wrong), message


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("handout", "grade", "list"):
        raise SystemExit("usage: tools/labs.py handout N [DIR] | grade N | list")
    if sys.argv[1] == "list":
        for number, (title, scenarios) in LABS.items():
            print(f"lab {number}: {title} ({len(scenarios)} scenarios; docs/labs/lab-{number}.md)")
        return
    if len(sys.argv) < 3 or not sys.argv[2].isdigit() or int(sys.argv[2]) not in LABS:
        raise SystemExit(f"labs: LAB must be one of {', '.join(map(str, LABS))} (make {sys.argv[1]} LAB=N)")
    lab = int(sys.argv[2])
    if sys.argv[1] == "handout":
        destination, files = handout(lab, sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None)
        print(f"lab {lab} handout in {destination}; the TODOs are in: {', '.join(files)}")
        print(f"  cd {destination} && make grade LAB={lab}")
    else:
        os.makedirs(os.path.join(ROOT, "build", "test-isos"), exist_ok=True)
        score, total = grade(lab, first_failure="--first-failure" in sys.argv)
        print(f"lab {lab} ({LABS[lab][0]}): score {score}/{total}")
        sys.exit(0 if score == total else 1)


if __name__ == "__main__":
    main()
