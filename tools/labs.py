#!/usr/bin/env python3
"""The labs: handouts and grading.

Solution code in the source is marked for a lab:

    /* LAB 2 BEGIN: look the faulting instruction up in the exception table */   (asm: ; LAB 2 BEGIN: ...)
    ... the solution ...
    /* LAB 2 STUB */                                                             (asm: ; LAB 2 STUB)
    //| return false;          <- what the handout has instead (asm: ;| ...), commented out here
    /* LAB 2 END */                                                              (asm: ; LAB 2 END)

    tools/labs.py handout N   writes build/handout-N: the tree with lab N's solutions replaced by
                              TODO comments and the stubs, which still compile
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
    2: ("Page faults and the exception table", ["nofault [bios]", "nmi-pf-nested nmi=nested [bios]"]),
    3: ("Watch the naive handler break", ["nmi-pf-nested nmi=naive [bios]", "nmi-int3-nested nmi=naive [bios]",
                                         "nmi-pf-nested nmi=naive-raw [bios]"]),
    4: ("Write the nested-NMI detection", ["nmi-pf-nested nmi=nested [bios]", "nmi-int3-nested nmi=nested [bios]",
                                          "nmi-repeat-window nmi=nested [bios]", "nmi-iret-window nmi=nested [bios]",
                                          "nmi-repeat-window-all nmi=nested [bios]", "nmi-exit-window-all nmi=nested [bios]",
                                          "nmi-first-on-nmi-stack nmi=nested [bios]"]),
    5: ("CR2 and the watchdog", ["nmi-cr2 nmi=nested [bios]", "watchdog-dump nmi=nested [bios]"]),
    6: ("kprobes in NMI", ["kprobe-nmi nmi=nested [bios]", "kprobe-nmi nmi=latch [bios]"]),
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


def make_handout_text(text, lab, path):
    """The file with lab `lab`'s marked regions replaced; other labs' regions stay as they are."""
    out, state, title, changed = [], None, "", False
    asm = path.endswith((".asm", ".inc"))
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        m = MARK.match(line)
        if m and int(m.group(2)) == lab:
            indent, kind = m.group(1), m.group(3)
            expected = {"BEGIN": None, "STUB": "solution", "END": "stub"}[kind]
            if state != expected:
                raise SystemExit(f"{path}:{number}: LAB {lab} {kind} out of order")
            if kind == "BEGIN":
                state, title = "solution", m.group(4) or "your code here"
                todo = f"TODO(lab {lab}): {title}. See docs/labs/lab-{lab}.md."
                out.append(f"{indent}; {todo}\n" if asm else f"{indent}/* {todo} */\n")
                changed = True
            elif kind == "STUB":
                state = "stub"
            else:
                state = None
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
    return "".join(out), changed


def copy_tree(destination):
    """The project's files and this tree's object files (timestamps kept, so that only what
    changes afterwards is compiled again) into destination."""
    shutil.rmtree(destination, ignore_errors=True)
    for path in tracked_files():
        source = os.path.join(ROOT, path)
        target = os.path.join(destination, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    build = os.path.join(ROOT, "build")
    for directory, _, files in os.walk(build):
        if "handout-" in directory or "test-" in directory:
            continue
        for name in files:
            if name.endswith((".o", ".d", ".inc", ".s", ".c", ".txt", ".elf")):
                relative = os.path.relpath(os.path.join(directory, name), ROOT)
                os.makedirs(os.path.dirname(os.path.join(destination, relative)), exist_ok=True)
                shutil.copy2(os.path.join(ROOT, relative), os.path.join(destination, relative))


def handout(lab, destination=None):
    """Writes the student tree for lab `lab`; returns its path."""
    destination = destination or os.path.join(ROOT, "build", f"handout-{lab}")
    copy_tree(destination)
    changed_files = []
    for path in tracked_files():
        if not path.endswith((".c", ".h", ".asm", ".inc")):
            continue
        with open(os.path.join(ROOT, path)) as f:
            text, changed = make_handout_text(f.read(), lab, path)
        if changed:
            with open(os.path.join(destination, path), "w") as f:
                f.write(text)
            changed_files.append(path)
    if not changed_files:
        raise SystemExit(f"labs: no LAB {lab} markers in the source")
    return destination, changed_files


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


def grade_wrong_solution(lab, patch):
    """The full tree with one known wrong solution of lab `lab` applied, graded. Returns (caught,
    what the grader said)."""
    name = os.path.basename(patch)[:-len(".patch")]
    destination = tempfile.mkdtemp(prefix=f"nmilab-lab{lab}-{name}-")
    try:
        copy_tree(destination)
        applied = subprocess.run(["patch", "-s", "-p1", "-i", patch], cwd=destination, capture_output=True, text=True)
        if applied.returncode:
            return False, f"{name}: the patch does not apply: {(applied.stdout + applied.stderr).strip()[-150:]}"
        build = subprocess.run(["make", "-s", "-C", destination, "build/kernel.elf"], capture_output=True, text=True)
        if build.returncode:
            return False, f"{name}: does not build: " + (build.stderr.strip().splitlines() or ["?"])[-1]
        graded = subprocess.run([sys.executable, os.path.join(destination, "tools", "labs.py"), "grade", str(lab),
                                 "--first-failure"], capture_output=True, text=True)
        failure = next((line for line in graded.stdout.splitlines() if line.startswith("FAIL")), None)
        if graded.returncode == 0 or not failure:
            return False, f"{name}: passes the grade"
        return True, f"{name}: {re.sub(r' [(]log: [^)]*[)]', '', failure)}"
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def check(lab, results):
    """For make test: lab `lab`'s handout builds and fails its grade, and this tree passes it
    (results: scenario id -> passed, from the run that just happened). Returns (ok, message)."""
    title, wanted = LABS[lab]
    missing = [i for i in wanted if i not in results]
    if missing:
        return False, f"its scenarios did not run: {', '.join(missing)}"
    full = sum(results[i] for i in wanted)
    if full != len(wanted):
        return False, f"the full tree scores {full}/{len(wanted)} on it"
    destination, _ = handout(lab)
    build = subprocess.run(["make", "-s", "-C", destination, "build/kernel.elf"], capture_output=True, text=True)
    if build.returncode:
        return False, "the handout does not build: " + (build.stderr.strip().splitlines() or ["?"])[-1]
    graded = subprocess.run([sys.executable, os.path.join(destination, "tools", "labs.py"), "grade", str(lab),
                             "--first-failure"], capture_output=True, text=True)
    score = re.search(r"score (\d+)/(\d+)", graded.stdout)
    if not score:
        return False, "the handout's grader printed no score: " + graded.stdout[-200:]
    if graded.returncode == 0 or score.group(1) == score.group(2):
        return False, f"the handout passes its own grade ({score.group(0)}): the TODO is not needed"
    shutil.rmtree(destination, ignore_errors=True)
    wrong = [grade_wrong_solution(lab, patch) for patch in wrong_solutions(lab)]
    caught = sum(ok for ok, _ in wrong)
    message = f"the handout builds and fails its grade; the full tree scores {full}/{len(wanted)}"
    if wrong:
        message += f"; known wrong solutions caught: {caught}/{len(wrong)}" + "".join(f"\n{m}" for _, m in wrong)
    return caught == len(wrong), message


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("handout", "grade", "list"):
        raise SystemExit("usage: tools/labs.py handout N | grade N | list")
    if sys.argv[1] == "list":
        for number, (title, scenarios) in LABS.items():
            print(f"lab {number}: {title} ({len(scenarios)} scenarios; docs/labs/lab-{number}.md)")
        return
    if len(sys.argv) < 3 or not sys.argv[2].isdigit() or int(sys.argv[2]) not in LABS:
        raise SystemExit(f"labs: LAB must be one of {', '.join(map(str, LABS))} (make {sys.argv[1]} LAB=N)")
    lab = int(sys.argv[2])
    if sys.argv[1] == "handout":
        destination, files = handout(lab)
        print(f"lab {lab} handout in {os.path.relpath(destination, ROOT)}; the TODOs are in: {', '.join(files)}")
        print(f"  cd {os.path.relpath(destination, ROOT)} && make grade LAB={lab}")
    else:
        os.makedirs(os.path.join(ROOT, "build", "test-isos"), exist_ok=True)
        score, total = grade(lab, first_failure="--first-failure" in sys.argv)
        print(f"lab {lab} ({LABS[lab][0]}): score {score}/{total}")
        sys.exit(0 if score == total else 1)


if __name__ == "__main__":
    main()
