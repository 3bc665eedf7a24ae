"""make viewer, the pages: one self-contained HTML file per recording (viewer_record.py) and an
index that shows two side by side, written from tools/viewer_template.html and
tools/viewer_index.html. The recording goes into the page as JSON, with the kernel's source files
its steps run through and the names of the stack slots, read from the kernel's own headers."""
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


def read_recording(page_path):
    """The recording a page was written from (for the tests)."""
    with open(page_path) as f:
        text = f.read()
    found = re.search(r'<script type="application/json" id="recording">(.*?)</script>', text, re.S)
    return json.loads(found.group(1))
