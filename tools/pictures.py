#!/usr/bin/env python3
"""make pictures: boots test=nmi-trace, reads the NMI stack words the kernel printed at each step
of a nested NMI, and draws them as build/pictures/nmi-trace.svg (one column per step; the words
that changed since the step before are highlighted). Then it copies every picture in
build/pictures/ to docs/pictures/: this one, and the verify-*.svg that make verify drew there.
make pictures is the only thing that changes docs/pictures/."""
import glob
import html
import os
import re
import shutil
import subprocess
import sys

# The harness is the package tests/nmilab_test.
sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
)
from nmilab_test.paths import ISOS, KERNEL, PICTURES, ROOT  # noqa: E402
from nmilab_test.runner import run_scenario  # noqa: E402
from nmilab_test.scenario import Scenario  # noqa: E402

OUTPUT = os.path.join(PICTURES, "nmi-trace.svg")
DOCS_PICTURES = os.path.join(ROOT, "docs", "pictures")
FIELDS = ("ss", "rsp", "rflags", "cs", "rip")  # top of the stack first
AREAS = ("hardware", "executing", "outermost", "iret")
LABELS = {
    "hardware": "hardware frame (the CPU writes it)",
    "executing": '"NMI executing"',
    "outermost": "outermost frame",
    "iret": "iret frame (final iretq pops it)",
}


def capture():
    s = Scenario("nmi-trace", "test=nmi-trace", "bios")
    ok, reason, _, log = run_scenario(s)
    if not ok:
        raise SystemExit(f"pictures: the trace scenario failed: {reason}")
    return log


def symbols():
    table = []
    for line in subprocess.run(
        ["nm", "-n", KERNEL], capture_output=True, text=True
    ).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT":
            table.append((int(parts[0], 16), parts[2]))
    return table


def name_of(address, table):
    best = None
    for start, name in table:
        if start > address:
            break
        best = (start, name)
    if not best or address - best[0] > 0x2000:
        return ""
    return f"{best[1]}+0x{address - best[0]:x}"


def parse(log):
    steps = []
    for line in log.splitlines():
        m = re.match(r"trace: step \d+ (.*)", line)
        if m:
            steps.append({"title": m.group(1)})
            continue
        m = re.match(
            r"trace:\s+(hardware|outermost|iret)\s+rip (\w+) cs (\w+) rflags (\w+) rsp (\w+) ss "
            r"(\w+)",
            line,
        )
        if m and steps:
            steps[-1][m.group(1)] = dict(zip(("rip", "cs", "rflags", "rsp", "ss"), m.groups()[1:]))
        m = re.match(r"trace:\s+executing\s+(\w+)", line)
        if m and steps:
            steps[-1]["executing"] = {"value": m.group(1)}
    if len(steps) < 4:
        raise SystemExit("pictures: the trace has fewer than 4 steps")
    return steps


def draw(steps, table):
    column, row, top = 300, 19, 70
    width = 20 + column * len(steps)
    height = top + row * 19 + 60
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" '
        f'font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        '<text x="10" y="20" font-size="14" font-weight="bold">The top of the NMI stack during a '
        'nested NMI '
        '(nmi=nested, captured by make pictures)</text>',
        '<text x="10" y="38">Yellow: changed since the step before. Each column is a real copy of '
        'struct nmi_stack.</text>',
    ]
    for i, step in enumerate(steps):
        x, y = 10 + i * column, top
        out.append(
            f'<text x="{x}" y="{y - 8}" font-weight="bold">{i + 1}. '
            f'{html.escape(step["title"][:40])}</text>'
        )
        for area in AREAS:
            out.append(f'<text x="{x}" y="{y + 12}" fill="#555">{LABELS[area]}</text>')
            y += row
            fields = ("value",) if area == "executing" else FIELDS
            for field in fields:
                value = step[area][field]
                changed = i > 0 and steps[i - 1][area][field] != value
                fill = "#ffe680" if changed else "#eef3ff"
                label = "" if field == "value" else field
                text = value
                if field == "rip":
                    text = f"{value[-8:]} {name_of(int(value, 16), table)}"
                out.append(
                    f'<rect x="{x}" y="{y}" width="{column - 20}" height="{row - 2}" fill="{fill}" '
                    f'stroke="#889"/>'
                )
                out.append(
                    f'<text x="{x + 4}" y="{y + 13}">{label:6} {html.escape(text[:36])}</text>'
                )
                y += row
            y += 4
    out.append(
        f'<text x="10" y="{height - 14}" fill="#555">Read top to bottom: hardware frame at the IST '
        f'stack '
        'top, then the "NMI executing" word, outermost and iret frames below it. See '
        'docs/nmi.md.</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    os.makedirs(ISOS, exist_ok=True)
    steps = parse(capture())
    with open(OUTPUT, "w") as f:
        f.write(draw(steps, symbols()))
    print(f"wrote {os.path.relpath(OUTPUT, ROOT)} ({len(steps)} steps)")
    drawn = sorted(glob.glob(os.path.join(PICTURES, "*.svg")))
    for picture in drawn:
        shutil.copy(picture, DOCS_PICTURES)
        print(f"copied {os.path.relpath(picture, ROOT)} to {os.path.relpath(DOCS_PICTURES, ROOT)}/")
    if not any(os.path.basename(p).startswith("verify-") for p in drawn):
        print(
            "(no build/pictures/verify-*.svg: make verify draws them; make pictures after it "
            "copies them)"
        )


if __name__ == "__main__":
    main()
