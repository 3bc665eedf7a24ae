"""make viewer, the pages: one self-contained HTML file per recording (viewer_record.py) and an
index that shows two side by side, written from tools/viewer_template.html and
tools/viewer_index.html. The recording goes into the page as JSON, with the kernel's source files
its steps run through and the names of the stack slots, read from the kernel's own headers."""
import difflib
import json
import os
import re

HEADERS = ("include/arch/x86_64/nmi_stack.h", "include/arch/x86_64/trap_frame.h")
TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
KIND_TITLES = {"pf": "a page fault", "int3": "an int3"}


def structures():
    """name -> [field, ...] lowest address first, for the structures of HEADERS whose members
    are uint64_t words or other such structures (expanded as member.field)."""
    found = {}
    for header in HEADERS:
        with open(os.path.join(ROOT, header)) as f:
            text = re.sub(r"/\*.*?\*/|//[^\n]*", "", f.read(), flags=re.S)
        for name, body in re.findall(r"struct (\w+) \{(.*?)\};", text, re.S):
            fields = []
            for kind, names in re.findall(r"(uint64_t|struct \w+)\s+([^;]+);", body):
                for member in (n.strip() for n in names.split(",")):
                    if kind == "uint64_t":
                        fields.append(member)
                    else:
                        inner = found[kind.split()[1]]
                        fields += [f"{member}.{field}" for field in inner]
            found[name] = fields
    return found


def slot_labels(layout, count):
    """[(group, field)] for the stack words from the top down. "nmi_stack": struct nmi_stack at
    the top, and below it the struct trap_frame whose rip..ss are nmi_stack's iret frame;
    "trap_frame": the trap frame alone, its rip..ss the hardware frame the CPU wrote."""
    known = structures()
    trap = known["trap_frame"]
    below_iret = trap[: trap.index("rip")]
    if layout == "nmi_stack":
        words = [("struct nmi_stack", f) for f in known["nmi_stack"]]
        words = [("struct trap_frame", f) for f in below_iret] + words
    else:
        words = [("struct trap_frame", f) for f in below_iret]
        words += [("hardware frame", f) for f in trap[trap.index("rip") :]]
    labels = words[::-1]  # top first
    return labels + [("C stack", "")] * (count - len(labels))


def page_data(recording):
    """The recording with what the page shows besides it: slot names, source files, titles."""
    paths = sorted({step["src"].rpartition(":")[0] for step in recording["steps"]} - {"?"})
    files = {}
    for path in paths:
        with open(os.path.join(ROOT, path)) as f:
            files[path] = f.read().splitlines()
    words = len(recording["steps"][0]["words"])
    return dict(
        recording,
        title=f"nmi={recording['strategy']}: {KIND_TITLES[recording['kind']]} in the NMI handler",
        slots=slot_labels(recording["layout"], words),
        files=files,
    )


def embedded(data):
    """JSON that may sit inside a <script> element."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def page_name(recording):
    return f"{recording['strategy']}-{recording['kind']}.html"


def write_page(recording, directory):
    data = page_data(recording)
    with open(os.path.join(TOOLS, "viewer_template.html")) as f:
        template = f.read()
    text = template.replace("{{TITLE}}", data["title"]).replace("{{DATA}}", embedded(data))
    path = os.path.join(directory, page_name(recording))
    with open(path, "w") as f:
        f.write(text)
    return path


def write_index(recordings, directory, left="nested-pf.html", right="naive-pf.html"):
    """index.html: two pages side by side (any two, chosen there), stepped together on events
    they share. It carries each page's events, not the pages: they stay separate files."""
    pages = {
        page_name(r): dict(
            title=f"nmi={r['strategy']}, {KIND_TITLES[r['kind']]}",
            steps=len(r["steps"]),
            events=[[i, key] for i, s in enumerate(r["steps"]) for key, _ in s["events"]],
        )
        for r in recordings
    }
    with open(os.path.join(TOOLS, "viewer_index.html")) as f:
        template = f.read()
    text = template.replace("{{DATA}}", embedded(dict(pages=pages, left=left, right=right)))
    path = os.path.join(directory, "index.html")
    with open(path, "w") as f:
        f.write(text)
    return path


RECORDING_ELEMENT = re.compile(
    r'(<script type="application/json" id="recording">)(.*?)(</script>)', re.S
)


def read_recording(page_path):
    """The recording a page was written from (for the tests)."""
    with open(page_path) as f:
        return json.loads(RECORDING_ELEMENT.search(f.read()).group(2))


def hide_solutions(page, first_lab, handout_text):
    """The page as a handout of lab `first_lab` has it: each source file as the handout has it
    (handout_text: tests/nmilab_test/tree.py's, which takes the solutions out) and the steps that
    ran a solution pointing at its TODO, their instruction not shown."""
    data = json.loads(RECORDING_ELEMENT.search(page).group(2))
    moved = {}
    for path, lines in data["files"].items():
        text, replaced = handout_text("\n".join(lines) + "\n", first_lab, path)
        if replaced:
            data["files"][path] = text.splitlines()
            moved[path] = line_map(lines, data["files"][path])
    for step in data["steps"]:
        path, _, line = step["src"].rpartition(":")
        if path in moved:
            number, hidden = moved[path][int(line)]
            step["src"] = f"{path}:{number}"
            if hidden:
                step["insn"] = "(a lab's solution: not shown in this handout)"
    return RECORDING_ELEMENT.sub(lambda m: m.group(1) + embedded(data) + m.group(3), page)


def line_map(old, new):
    """old line number -> (its number in new, whether it was taken out: then the number of what
    replaced it)."""
    out = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for i in range(i1, i2):
            out[i + 1] = (j1 + (i - i1) + 1, False) if tag == "equal" else (j1 + 1, True)
    return out
