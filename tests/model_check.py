#!/usr/bin/python3
"""A model checker of the NMI entry on its own: the real machine code of arch/x86_64/nmi_entry.asm,
taken from build/kernel.elf and run in Unicorn (Debian's python3-unicorn), under a small model
of the x86 rules that matter here. No QEMU, no kernel around it.

The model (Intel SDM vol. 3, 6.7.1 "Handling Multiple NMIs", 6.12/6.14 for the IST frame):
  - An NMI is delivered at an instruction boundary when NMIs are not blocked: the CPU loads RSP
    from the IST (always the same top T), pushes SS, RSP, RFLAGS, CS, RIP, clears IF and TF (not
    DF), jumps to the entry, and blocks NMIs.
  - While NMIs are blocked, an arriving NMI is held pending; one pending NMI at most (more merge).
  - Any iretq unblocks NMIs; a pending NMI is then delivered before the next instruction.
  - The C handler (nmi_nested_handle, or nmi_naive_handle for the naive entry) is replaced by a
    stub: it counts a pass, scribbles over the registers C may clobber and the stack below it,
    and may take an exception; an exception's iretq is what unblocks NMIs inside a handler.
The checker explores every interleaving of up to 3 NMIs (the first, then one arriving at any
boundary of the rest) with the stub faulting or not in each pass, breadth first, and merges
states seen before. Properties, checked when the interrupted code runs again:
  - it runs again at all (no loop within the step bound);
  - every general register, RIP, RFLAGS, CS, SS and RSP are what they were;
  - no NMI is lost: after the last NMI arrived, a handler pass started.
A violation is printed as the shortest trace that leads to it, with the NMI stack at each event.

nmi=ret (--entry ret) is the naive entry plus the exceptions' way back, so there the exception is
not a rule of the model: the CPU pushes a page fault's frame on the NMI stack (aligned to 16, as
it does) and nmi=ret's real exception entry and exit run (trap_stub_ret_14, trap_common_ret,
trap_return_ret_strategy with its iret-less return), with trap_dispatch replaced by a stub like
the handler's. Only an iretq that really runs unblocks NMIs.

    tests/model_check.py [--kernel build/kernel.elf] [--entry nested|naive|ret] [--nmis 3]
"""
import argparse
import collections
import os
import struct
import subprocess
import sys

from nmilab_test import kernel_image  # the kernel's symbols and instructions

try:
    import unicorn
    from unicorn import x86_const as X
except ImportError:
    sys.exit("model_check: needs Debian's python3-unicorn (tools/deps.sh installs it)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IST_TOP = 0x7000_8000          # the model's NMI stack top (the entry only uses RSP-relative addresses)
STACK_SAVED = 512              # bytes below IST_TOP that are part of a state
INTERRUPTED_CODE = 0x5000_0000  # the interrupted code: `jmp $`
INTERRUPTED_RSP = 0x6000_7f00
GPRS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
UC_REG = {name: getattr(X, f"UC_X86_REG_{name.upper()}") for name in GPRS + ["rip", "rflags"]}
CLOBBERED = ["rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"]  # what C may change


def selectors(kernel, name=None):
    """The kernel code and data selectors (include/arch/x86_64/gdt.h), as the build gave them to the
    asm entries: build/asm_offsets.inc, beside the kernel's ELF (name: that constant instead)."""
    defines = {}
    with open(os.path.join(os.path.dirname(kernel), "asm_offsets.inc")) as f:
        for line in f:
            words = line.split()
            if len(words) == 3 and words[0] == "%define":
                defines[words[1]] = int(words[2], 0)
    if name:
        return defines[name]
    return defines["KERNEL_CODE_SELECTOR"], defines["KERNEL_DATA_SELECTOR"]


def symbols(kernel):
    out = subprocess.run(["nm", kernel], capture_output=True, text=True, check=True).stdout
    return {p[2]: int(p[0], 16) for p in (line.split() for line in out.splitlines()) if len(p) == 3}


def load(uc, kernel):
    """Maps the ELF's loadable segments at their virtual addresses."""
    data = open(kernel, "rb").read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        kind, _, offset, vaddr, _, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
        if kind != 1 or memsz == 0:
            continue
        start, end = vaddr & ~0xfff, (vaddr + memsz + 0xfff) & ~0xfff
        uc.mem_map(start, end - start)
        uc.mem_write(vaddr, data[offset:offset + filesz])


class Model:
    def __init__(self, kernel, entry_name):
        self.sym = symbols(kernel)
        self.kernel_cs, self.kernel_ss = selectors(kernel)
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
        load(self.uc, kernel)
        self.uc.mem_map(IST_TOP - 0x8000, 0x9000)  # the stack, and the CPU's NMI state above its top
        self.uc.mem_map(INTERRUPTED_RSP & ~0xffff, 0x10000)
        self.uc.mem_map(INTERRUPTED_CODE, 0x1000)
        self.uc.mem_write(INTERRUPTED_CODE, b"\xeb\xfe")  # jmp $
        self.entry = self.sym[entry_name]
        handlers = {"nmi_entry_nested": "nmi_nested_handle", "nmi_entry_ret": "nmi_ret_handle"}
        self.handler = self.sym[handlers.get(entry_name, "nmi_naive_handle")]
        self.ret = entry_name == "nmi_entry_ret"
        # ret: the exception's frames are part of a state too
        self.stack_saved = 2 * STACK_SAVED if self.ret else STACK_SAVED
        self.dispatch = self.sym["trap_dispatch"]
        if self.ret:  # the exit finds this CPU's NMI stack top in cpus[TR's CPU].nmi; TR may read 0
            tss0, scale = selectors(kernel, "TSS_SELECTOR_0"), selectors(kernel, "CPU_PER_SELECTOR")
            self.mark_offset = selectors(kernel, "NMI_CPU_RET_RUNNING")
            for selector in (0, tss0):
                top = struct.pack("<Q", IST_TOP)
                self.uc.mem_write(self.sym["cpus"] + (selector - tss0) * scale, top)
            self.uc.mem_write(self.dispatch, b"\xc3")
        # The stub at the C handler: nop (an exception may happen here: the choice point), nop, ret.
        self.fault_point = self.handler + 1
        self.uc.mem_write(self.handler, b"\x90\x90\x90\xc3")
        self.nmi_cpu = IST_TOP  # struct nmi_cpu_state sits right above the NMI stack top (stacks.c)
        self.mnemonic = kernel_image.mnemonics(kernel)
        self.names = kernel_image.function_symbols(kernel)
        self.nested = entry_name == "nmi_entry_nested"
        # The interrupted context: recognisable values in every register.
        self.context = {name: 0x1111_0000_0000_0000 + i for i, name in enumerate(GPRS)}
        self.context.update(rsp=INTERRUPTED_RSP, rip=INTERRUPTED_CODE, rflags=0x246,
                            cs=self.kernel_cs, ss=self.kernel_ss)

    def name(self, address):
        if address == INTERRUPTED_CODE:
            return "the interrupted code"
        return kernel_image.name_in(self.names, address) or f"{address:#x}"

    # A state: registers, the top of the NMI stack, nmi_cpu (its first 80 bytes and, under ret,
    # the ret_running mark its entry sets), and the model's own variables.
    def save(self, variables):
        regs = tuple(self.uc.reg_read(UC_REG[name]) for name in GPRS + ["rip", "rflags"])
        stack = bytes(self.uc.mem_read(IST_TOP - self.stack_saved, self.stack_saved))
        cpu = bytes(self.uc.mem_read(self.nmi_cpu, 80))
        mark = bytes(self.uc.mem_read(self.nmi_cpu + self.mark_offset, 8)) if self.ret else b""
        return (regs, stack, cpu + mark, variables)

    def restore(self, state):
        regs, stack, cpu, variables = state
        for name, value in zip(GPRS + ["rip", "rflags"], regs):
            self.uc.reg_write(UC_REG[name], value)
        self.uc.mem_write(IST_TOP - self.stack_saved, stack)
        self.uc.mem_write(self.nmi_cpu, cpu[:80])
        if self.ret:
            self.uc.mem_write(self.nmi_cpu + self.mark_offset, cpu[80:])
        return variables

    def reg(self, name):
        return self.uc.reg_read(UC_REG[name])

    def set(self, name, value):
        self.uc.reg_write(UC_REG[name], value)

    def read64(self, address):
        return struct.unpack("<Q", self.uc.mem_read(address, 8))[0]

    def deliver_nmi(self):
        """The CPU's NMI delivery through the IST gate."""
        frame = struct.pack("<QQQQQ", self.reg("rip"), self.kernel_cs, self.reg("rflags"),
                            self.reg("rsp"), self.kernel_ss)
        self.uc.mem_write(IST_TOP - 40, frame)
        self.set("rsp", IST_TOP - 40)
        self.set("rflags", self.reg("rflags") & ~((1 << 9) | (1 << 8)))  # IF and TF cleared, DF kept
        self.set("rip", self.entry)

    def deliver_page_fault(self):
        """A page fault at the stub's fault point, fixed up to go on after it: on the current
        stack (no IST), aligned to 16, the frame and an error code; then the real entry."""
        rsp = self.reg("rsp")
        frame = struct.pack("<QQQQQQ", 0, self.fault_point + 1, self.kernel_cs, self.reg("rflags"),
                            rsp, self.kernel_ss)
        top = rsp & ~0xF
        self.uc.mem_write(top - 48, frame)
        self.set("rsp", top - 48)
        self.set("rflags", self.reg("rflags") & ~((1 << 9) | (1 << 8)))
        self.set("rip", self.sym["trap_stub_ret_14" if self.ret else "trap_stub_14"])

    def iretq(self):
        rsp = self.reg("rsp")
        rip, cs, rflags, new_rsp, ss = struct.unpack("<QQQQQ", self.uc.mem_read(rsp, 40))
        self.set("rip", rip)
        self.set("rflags", rflags)
        self.set("rsp", new_rsp)
        return cs, ss

    def stack_picture(self):
        """The words of the NMI stack that tell the story: for nested, struct nmi_stack's
        hardware frame, "NMI executing", outermost and iret frames; for naive, the one frame."""
        if not self.nested:
            rip, _, _, rsp, _ = struct.unpack("<5Q", self.uc.mem_read(IST_TOP - 40, 40))
            show = lambda v: self.name(v) if v > 0xffffffff80000000 or v == INTERRUPTED_CODE else f"{v:#x}"
            return f"frame at the IST top: rip={show(rip)} rsp={show(rsp)}"
        words = struct.unpack("<17Q", self.uc.mem_read(IST_TOP - 136, 136))[::-1]
        labels = ["hw ss", "hw rsp", "hw rflags", "hw cs", "hw rip", "saved rdx", "executing",
                  "outer ss", "outer rsp", "outer rflags", "outer cs", "outer rip",
                  "iret ss", "iret rsp", "iret rflags", "iret cs", "iret rip"]
        show = lambda v: self.name(v) if v > 0xffffffff80000000 or v == INTERRUPTED_CODE else f"{v:#x}"
        return "  ".join(f"{label}={show(v)}" for label, v in zip(labels, words) if label.startswith(("hw rip",
                         "executing", "outer rip", "outer rsp", "iret rip", "iret rsp")))


# Model variables: (blocked, pending, arrived, passes, unserved, faulted_this_pass)
def explore(model, max_nmis):
    """Breadth first over every interleaving; returns (states explored, violation or None). A
    violation is (message, trace) where trace lists (event, stack picture)."""
    uc = model.uc
    for name, value in model.context.items():
        if name in UC_REG:
            model.set(name, value)
    uc.mem_write(model.nmi_cpu, bytes(80))
    # The first NMI arrives in the interrupted code.
    model.deliver_nmi()
    start = model.save((True, False, 1, 0, True, False))
    queue = collections.deque([(start, None)])
    parents = {}
    seen = {start: None}
    edges, order, resumed = {start: []}, [start], []
    explored = 0

    first_event = ("NMI 1 arrives in the interrupted code: delivered", model.stack_picture())

    def trace_to(state, last_event):
        events = [last_event]
        while seen[state] is not None:
            state, event = seen[state]
            events.append(event)
        return [first_event] + list(reversed(events))

    while queue:
        state, _ = queue.popleft()
        explored += 1
        blocked, pending, arrived, passes, unserved, faulted = model.restore(state)
        rip = model.reg("rip")
        successors = []
        # Back in the interrupted code: check the properties.
        if rip == INTERRUPTED_CODE and model.reg("rsp") == INTERRUPTED_RSP:
            wrong = [f"{n} {model.context[n]:#x} -> {model.reg(n):#x}" for n in GPRS + ["rflags"]
                     if model.reg(n) != model.context[n]]
            if wrong:
                return explored, ("the interrupted code resumed with " + ", ".join(wrong), trace_to(state, ("resumed", "")))
            if unserved:
                return explored, ("an NMI was lost: no handler pass started after it arrived",
                                  trace_to(state, ("resumed", "")))
            resumed.append(state)
            continue
        if passes > arrived:
            return explored, (f"{passes} handler passes for {arrived} NMIs: the entry runs the handler in a loop",
                              trace_to(state, ("...", "")))
        # Choice 1: another NMI arrives now.
        if arrived < max_nmis:
            if blocked:
                successors.append(("NMI arrives, NMIs blocked: pending" if not pending else
                                   "NMI arrives, one already pending: merged",
                                   lambda: (True, True, arrived + 1, passes, True, faulted), False))
            else:
                successors.append(("NMI arrives: delivered", lambda: (model.deliver_nmi(), (
                    True, pending, arrived + 1, passes, True, faulted))[1], True))
        # Choice 2 (at the stub's fault point): the handler takes an exception, whose iretq
        # unblocks NMIs, or it does not.
        if rip == model.fault_point and not faulted and model.ret:
            successors.append(("the handler takes a page fault: the real entry and exit run",
                               lambda: (model.deliver_page_fault(),
                                        (blocked, pending, arrived, passes, unserved, True))[1],
                               True))
        elif rip == model.fault_point and not faulted:
            successors.append(("the handler takes an exception; its iretq unblocks NMIs",
                               lambda: (False, pending, arrived, passes, unserved, True), False))
        # The next instruction.
        successors.append((None, None, None))
        for label, action, picture in successors:
            model.restore(state)
            if label is None:
                label, variables = step(model, rip, blocked, pending, arrived, passes, unserved, faulted)
                picture = label.startswith(("iretq", "the handler", "NMI"))
            else:
                variables = action()
                if label.startswith("the handler takes an exception") and pending:  # its iretq
                    variables = (True, False, arrived, passes, unserved, True)
                    model.deliver_nmi()
                    label += ", and the pending NMI is delivered"
                    picture = True
            if isinstance(variables, str):  # a violation found while stepping
                return explored, (variables, trace_to(state, (label, "")))
            new = model.save(variables)
            edges[state].append(new)
            if new not in seen:
                seen[new] = (state, (label, model.stack_picture() if picture else ""))
                order.append(new)
                edges[new] = []
                queue.append((new, None))
    # Every state must lead back to the interrupted code: a state that cannot (the CPU goes round
    # a loop it never leaves, merged above as a state seen before) is a violation too.
    back = collections.defaultdict(list)
    for state, successors in edges.items():
        for successor in successors:
            back[successor].append(state)
    alive, todo = set(resumed), list(resumed)
    while todo:
        for state in back[todo.pop()]:
            if state not in alive:
                alive.add(state)
                todo.append(state)
    stuck = next((state for state in order if state not in alive), None)
    if stuck is not None:
        return explored, ("from here the CPU never gets back to the interrupted code (a loop)",
                          trace_to(stuck, ("... and round again", "")))
    return explored, None


def step(model, rip, blocked, pending, arrived, passes, unserved, faulted):
    """One instruction; iretq and the C stub by the model, everything else by Unicorn."""
    where = model.name(rip)
    if model.mnemonic.get(rip) == "iretq":
        cs, ss = model.iretq()
        if (cs, ss) != (model.kernel_cs, model.kernel_ss):
            return f"iretq at {where} popped CS {cs:#x} SS {ss:#x}", ()
        label = f"iretq at {where} -> {model.name(model.reg('rip'))}"
        if pending:  # delivered before the next instruction
            model.deliver_nmi()
            return label + "; the pending NMI is delivered", (True, False, arrived, passes, True, faulted)
        return label, (False, False, arrived, passes, unserved, faulted)
    if rip == model.dispatch:  # trap_dispatch's stub: C may clobber registers
        for i, name in enumerate(CLOBBERED):
            model.set(name, 0xd15a00 + i)
        model.uc.emu_start(rip, 0, count=1)
        return "trap_dispatch (a stub)", (blocked, pending, arrived, passes, unserved, faulted)
    if rip == model.handler:  # the stub: a pass starts; C may clobber registers and the stack below
        for i, name in enumerate(CLOBBERED):
            model.set(name, 0xc0ffee00 + i)
        model.uc.mem_write(model.reg("rsp") - 256, b"\xcc" * 248)
        model.uc.emu_start(rip, 0, count=1)
        return f"the handler starts pass {passes + 1}", (blocked, pending, arrived, passes + 1, False, False)
    try:
        model.uc.emu_start(rip, 0, count=1)
    except unicorn.UcError as error:
        return f"{where}: the CPU faults ({error})", ()
    return where, (blocked, pending, arrived, passes, unserved, faulted)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default=os.path.join(ROOT, "build", "kernel.elf"))
    parser.add_argument("--entry", choices=["nested", "naive", "ret"], default="nested")
    parser.add_argument("--nmis", type=int, default=3)
    parser.add_argument("--expect-violation", action="store_true", help="a broken entry: a violation must be found")
    args = parser.parse_args()
    model = Model(args.kernel, f"nmi_entry_{args.entry}")
    explored, violation = explore(model, args.nmis)
    what = f"model check, nmi={args.entry}, up to {args.nmis} NMIs: {explored} states explored"
    if violation is None:
        print(f"{what}; every property holds")
        return 1 if args.expect_violation else 0
    message, trace = violation
    print(f"{what}; VIOLATION: {message}")
    print(f"  shortest trace ({len(trace)} steps; runs of plain instructions on one line):")
    plain = []
    for i, (event, picture) in enumerate(trace):
        if not picture and not event.startswith(("NMI", "the handler", "iretq", "...", "resumed")):
            plain.append(event)
            continue
        if plain:
            print(f"  {i - len(plain):4} {len(plain)} instruction(s): {plain[0]} .. {plain[-1]}")
            plain = []
        print(f"  {i:4} {event}")
        if picture:
            print(f"       {picture}")
    if plain:
        print(f"       {len(plain)} instruction(s): {plain[0]} .. {plain[-1]}")
    return 0 if args.expect_violation else 1


if __name__ == "__main__":
    sys.exit(main())
