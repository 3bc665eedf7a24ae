"""The labs (docs/labs/): the scenarios each is graded on, the grader, and make test's checks of
the graders: a lab's handout builds and fails its grade, the tree with the lab solved passes it,
and each known wrong solution (tests/labs/lab-N/*.patch) fails it."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from . import scenarios
from .judge import keep_log
from .paths import ROOT
from .runner import run_scenario
from .scenarios import boot, labs, nmi, user
from .tree import marked_labs, write_tree


def named(name):
    """The catalogue's scenario called name (its id without the firmware)."""
    return next(s for s in scenarios.SCENARIOS if s.name == name)


LABS = {
    1: (
        "Boot and the IDT",
        [boot.BOOT_BIOS, boot.PANIC_FAULT, boot.PANIC_TASK_OVERFLOW, labs.IDT_GATES],
    ),
    # Each lab's grade passes with the labs before it solved and the later ones still stubs (make
    # test checks that): lab 2's NMI scenario runs under latch, which needs nothing of lab 4.
    2: (
        "Page faults and the exception table",
        [boot.NOFAULT, labs.EXCEPTION_TABLE, nmi.under("latch", "nmi-pf-nested")],
    ),
    3: (
        "Watch the naive handler break",
        [
            nmi.under("naive", "nmi-pf-nested"),
            nmi.under("naive", "nmi-int3-nested"),
            nmi.under("naive-raw", "nmi-pf-nested"),
            nmi.under("naive", "nmi-external"),  # a lone NMI: no report
            labs.NAIVE_OWN_COPY,  # its own copy compared too (k <= depth)
        ],
    ),
    4: (
        "Write the nested-NMI detection",
        [
            nmi.under("nested", name)
            for name in (
                "nmi-pf-nested",
                "nmi-int3-nested",
                "nmi-repeat-window",
                "nmi-iret-window",
                "nmi-repeat-window-all",
                "nmi-exit-window-all",
                "nmi-first-on-nmi-stack",
            )
        ]
        + [labs.NMI_BELOW_ENTRY, labs.NMI_REPEAT_WINDOW_END],
    ),
    5: (
        "CR2 and the watchdog",
        [nmi.under("nested", "nmi-cr2"), nmi.under("nested", "watchdog-dump"), labs.WATCHDOG_TWICE],
    ),
    6: (
        "kprobes in NMI",
        [nmi.under("nested", "kprobe-nmi"), nmi.under("latch", "kprobe-nmi"), labs.KPROBE_TWO],
    ),
    7: ("NMIs from user mode", [user.USER_MODE, user.USER_NMI_FAULT_RETURN, user.USER_NMI_STORM]),
    # nmi-ret-exit-all first: it says in the lab's terms what a wrong exit does (the others may
    # only crash); then the faults on CPUs 1-3 (smp-nested-nmi) and a #DB on its own IST stack
    8: (
        "Return from an exception without iretq",
        [labs.NMI_RET_EXIT_ALL, named("smp-nested-nmi nmi=ret"), named("nmi-breakpoint nmi=ret")]
        + [
            nmi.under("ret", name)
            for name in (
                "nmi-pf-nested",
                "nmi-int3-nested",
                "nmi-cr2",
                "watchdog-dump",
                "vmalloc-nmi",
                "module-nmi",
                "kprobe-nmi",
                "nmi-storm",
            )
        ],
    ),
}


def handout(lab, destination=None):
    """Writes the student tree for lab `lab`; returns its path and the files with its TODOs."""
    files = marked_labs().get(lab)
    if not files:
        raise SystemExit(
            f"labs: this tree has no LAB {lab} markers (a handout of lab {lab} or later?)"
        )
    destination = os.path.abspath(
        destination or os.path.join(os.path.dirname(ROOT), f"nmilab-lab-{lab}")
    )
    if os.path.commonpath([destination, ROOT]) == ROOT:
        raise SystemExit(
            f"labs: {destination} is inside this tree; a handout goes outside it (make handout "
            f"LAB={lab} DIR=...)"
        )
    if os.path.exists(destination):
        raise SystemExit(
            f"labs: {destination} exists; remove it or name another (make handout LAB={lab} "
            f"DIR=...)"
        )
    write_tree(destination, lab)
    return destination, files


def grade(lab, first_failure=False, quiet=False):
    """Runs lab `lab`'s scenarios on this tree's kernel and prints a line for each, the failed ones
    first (in the order they ran); returns (score, total, results), results a list of (scenario
    id, passed, reason, seconds). first_failure stops at the first failing scenario and gives each
    12 s (for checking that a handout fails)."""
    chosen = LABS[lab][1]  # in the lab's order: the first is the one that explains most
    if first_failure:
        for s in chosen:
            # a handout that hangs is failing: no need to wait longer; but long enough for a
            # scenario that takes a few seconds to tell what is wrong (watchdog-twice: ~8 s)
            s.timeout = min(s.timeout, 12)
    results = []
    progress = not quiet and sys.stderr.isatty()
    for number, s in enumerate(chosen, 1):
        if progress:  # one line, rewritten: the results come after, the first failure first
            print(f"\rgrading lab {lab}: {s.id} ({number}/{len(chosen)})\033[K", end="",
                  file=sys.stderr, flush=True)
        ok, reason, seconds, log = run_scenario(s)
        log_file = keep_log(s, ok, log)
        if not ok:
            reason += f" (log: {os.path.relpath(log_file, ROOT)})"
        results.append((s.id, ok, reason, seconds))
        if not ok and first_failure:
            break
    if progress:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    if not quiet:  # what went wrong first: the first line says it
        for name, ok, reason, _ in sorted(results, key=lambda result: result[1]):
            print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {reason}"), flush=True)
    return sum(ok for _, ok, _, _ in results), len(chosen), results


def write_results(lab, results, directory):
    """The grade as files a course collects: grade-lab-N.json (lab, score, each scenario's pass or
    fail, reason and time) and results-lab-N.json, the same in Gradescope's results.json format
    (tests: name, score, max_score, output). Returns their paths."""
    score, total = sum(ok for _, ok, _, _ in results), len(LABS[lab][1])
    summary = f"lab {lab} ({LABS[lab][0]}): score {score}/{total}"
    first = next((f"{name}: {reason}" for name, ok, reason, _ in results if not ok), None)
    tests = [
        {
            "name": name,
            "score": int(ok),
            "max_score": 1,
            "status": "passed" if ok else "failed",
            "output": "passed" if ok else reason,
        }
        for name, ok, reason, _ in results
    ]
    seconds = round(sum(t for _, _, _, t in results), 1)
    ours = {
        "lab": lab,
        "title": LABS[lab][0],
        "score": score,
        "max_score": total,
        "first_failure": first,
        "seconds": seconds,
        "scenarios": [
            {"name": name, "passed": ok, "reason": reason, "seconds": round(t, 1)}
            for name, ok, reason, t in results
        ],
        "tests": tests,
    }
    gradescope = {
        "score": score,
        "execution_time": int(seconds + 0.5),
        "output": summary + (f"\nfirst failure: {first}" if first else ""),
        "tests": tests,
    }
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, content in ((f"grade-lab-{lab}.json", ours), (f"results-lab-{lab}.json", gradescope)):
        paths.append(os.path.join(directory, name))
        with open(paths[-1], "w") as f:
            json.dump(content, f, indent=2)
            f.write("\n")
    return paths


def wrong_solutions(lab):
    return sorted(glob.glob(os.path.join(ROOT, "tests", "labs", f"lab-{lab}", "*.patch")))


def build_and_grade(destination, lab, first_failure):
    """Builds the tree in destination and grades lab `lab` there. Returns (score, total, the
    grader's first FAIL line or what went wrong)."""
    build = subprocess.run(
        ["make", "-s", "-C", destination, "build/kernel.elf"], capture_output=True, text=True
    )
    if build.returncode:
        return None, None, "does not build: " + (build.stderr.strip().splitlines() or ["?"])[-1]
    graded = subprocess.run(
        [sys.executable, os.path.join(destination, "tools", "labs.py"), "grade", str(lab)]
        + (["--first-failure"] if first_failure else []),
        capture_output=True,
        text=True,
    )
    score = re.search(r"score (\d+)/(\d+)", graded.stdout)
    failure = next((line for line in graded.stdout.splitlines() if line.startswith("FAIL")), "")
    if not score:
        return None, None, "the grader printed no score: " + (graded.stdout + graded.stderr)[-200:]
    return int(score.group(1)), int(score.group(2)), re.sub(r" [(]log: [^)]*[)]", "", failure)


def wrong_solution_claim(patch):
    """What a known wrong solution's patch says before its diff: the mistake in one line, and
    (`expect: REGEX`) what the grader's first FAIL line must say about it."""
    with open(patch) as f:
        head = f.read().split("\n--- ", 1)[0].splitlines()
    regex = next((line[len("expect: ") :] for line in head if line.startswith("expect: ")), None)
    return " ".join(line for line in head if not line.startswith("expect: ")), regex


def grade_wrong_solution(lab, patch, first_failure=True):
    """This tree with one known wrong solution of lab `lab` applied, graded. Returns (caught, what
    the grader said): caught when the grade fails and its first FAIL line matches the patch's
    `expect:` line."""
    name = os.path.basename(patch)[: -len(".patch")]
    _, regex = wrong_solution_claim(patch)
    destination = tempfile.mkdtemp(prefix=f"nmilab-lab{lab}-{name}-")
    try:
        write_tree(destination, with_objects=True)
        applied = subprocess.run(
            ["patch", "-s", "-p1", "-i", patch], cwd=destination, capture_output=True, text=True
        )
        if applied.returncode:
            return (
                False,
                f"{name}: the patch does not apply: "
                f"{(applied.stdout + applied.stderr).strip()[-150:]}",
            )
        start = time.time()
        score, total, failure = build_and_grade(destination, lab, first_failure=first_failure)
        if score is not None and score < total and not re.search(regex or "^$", failure):
            # failed, but not with its message: on a loaded machine (make test boots three QEMUs
            # at once) a scenario can run out of its 12 s, or a debugger-driven one lose a step.
            # Once more, and this time it must say what it gets wrong.
            score, total, failure = build_and_grade(destination, lab, first_failure=first_failure)
        took = f"{name} ({time.time() - start:.0f} s)"
        if score is None or score == total:
            return False, f"{took}: " + (failure or "passes the grade")
        if not regex:
            return False, f"{took}: no 'expect: REGEX' line in the patch; the grade said {failure}"
        if not re.search(regex, failure):
            return False, f"{took}: fails, but not with /{regex}/: {failure}"
        return True, f"{took}: {failure}"
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def results_wrong(tree, lab, score):
    """What is wrong with the result files a full grade of lab `lab` wrote in tree (the grade
    said `score`), or None: the fields a course's scripts and Gradescope read."""
    total = len(LABS[lab][1])
    try:
        with open(os.path.join(tree, "build", f"grade-lab-{lab}.json")) as f:
            ours = json.load(f)
        with open(os.path.join(tree, "build", f"results-lab-{lab}.json")) as f:
            gradescope = json.load(f)
    except (OSError, ValueError) as error:
        return f"the grade's result files: {error}"
    if (ours.get("lab"), ours.get("score"), ours.get("max_score")) != (lab, score, total):
        return f"grade-lab-{lab}.json says lab {ours.get('lab')} score {ours.get('score')}/" \
            f"{ours.get('max_score')}, the grade said {score}/{total}"
    scenarios = ours.get("scenarios", [])
    wanted = {s.id for s in LABS[lab][1]}
    if {s.get("name") for s in scenarios} != wanted or any(
        not isinstance(s.get("passed"), bool) or not isinstance(s.get("seconds"), (int, float))
        or (not s["passed"] and not s.get("reason"))
        for s in scenarios
    ):
        return f"grade-lab-{lab}.json's scenarios are not the lab's, each passed, reason, seconds"
    tests = gradescope.get("tests", [])
    fields_ok = all(
        isinstance(t.get("name"), str) and t.get("max_score") == 1 and t.get("score") in (0, 1)
        and isinstance(t.get("output"), str)
        for t in tests
    )
    if len(tests) != total or not fields_ok or gradescope.get("score") != score:
        return f"results-lab-{lab}.json is not Gradescope's format (tests: name, score, " \
            f"max_score, output; score {score})"
    if sum(t["score"] for t in tests) != score:
        return f"results-lab-{lab}.json's tests add up to {sum(t['score'] for t in tests)}"
    return None


def check(lab, results):
    """For make test: lab `lab`'s handout (this lab and later ones taken out) builds and fails its
    grade; the same tree with only later labs taken out (a student who has solved this lab) passes
    it, and so does this tree (results: scenario id -> passed, from the run that just happened);
    each known wrong solution fails it. In a handout tree, where lab `lab` has no markers, only
    the grade is reported. Returns (ok, message)."""
    wanted = [s.id for s in LABS[lab][1]]
    missing = [i for i in wanted if i not in results]
    if missing:
        return False, f"its scenarios did not run: {', '.join(missing)}"
    score = sum(results[i] for i in wanted)
    marked = marked_labs()
    if lab not in marked:
        return (
            score == len(wanted),
            f"score {score}/{len(wanted)} (this tree is a lab {lab} handout, or later)",
        )
    if score != len(wanted):
        return False, f"this tree scores {score}/{len(wanted)} on it"
    with open(os.path.join(ROOT, "tools", "gradescope", "run_autograder")) as f:
        listed = re.search(rf'^{lab}\) files="([^"]*)"', f.read(), re.M)
    if not listed or sorted(listed.group(1).split()) != sorted(marked[lab]):
        return False, f"tools/gradescope/run_autograder's files for lab {lab} are not its TODOs' " \
            f"files ({' '.join(sorted(marked[lab]))})"
    checks = [("the handout", lab, False)]
    if any(later > lab for later in marked):
        checks.append(("the handout with lab {lab} solved", lab + 1, True))
    said = []
    for what, first_lab, must_pass in checks:
        destination = tempfile.mkdtemp(prefix=f"nmilab-handout{lab}-")
        try:
            write_tree(destination, first_lab, with_objects=True)
            got, total, failure = build_and_grade(destination, lab, first_failure=not must_pass)
            wrong_results = must_pass and got is not None and results_wrong(destination, lab, got)
        finally:
            shutil.rmtree(destination, ignore_errors=True)
        what = what.format(lab=lab)
        if got is None:
            return False, f"{what} {failure}"
        if wrong_results:
            return False, f"{what}: {wrong_results}"
        if must_pass and got != total:
            return False, f"{what} scores {got}/{total}: {failure}"
        if not must_pass and got == total:
            return False, f"{what} passes its own grade ({got}/{total}): the TODO is not needed"
        said.append(
            f"{what} scores {got}/{total}" if must_pass else f"{what} builds and fails its grade"
        )
    wrong = [grade_wrong_solution(lab, patch) for patch in wrong_solutions(lab)]
    caught = sum(ok for ok, _ in wrong)
    message = "; ".join(said) + f"; this tree scores {score}/{len(wanted)}"
    if wrong:
        message += f"; known wrong solutions caught: {caught}/{len(wrong)}" + "".join(
            f"\n{m}" for _, m in wrong
        )
    return caught == len(wrong), message
