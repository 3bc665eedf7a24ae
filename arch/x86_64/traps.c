/* Exception dispatch: one table of C handlers indexed by vector. Anything without a handler, or
 * whose handler declines it, is fatal and panics with the full report. An exception from user
 * mode goes to the kernel's user fault hook first (kernel/user.c: it kills the task). */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/sections.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/traps.h>
#include <kernel/panic.h>
#include <kernel/printk.h>

#define RFLAGS_RF (1UL << 16)   /* resume: no instruction breakpoint on the next instruction */
#define DR6_CLEAR 0xffff0ff0UL  /* DR6 with no status bit set (the others read as 1) */

static trap_handler vector_handlers[VECTORS];
static user_fault_hook user_fault_handler;

static const char *const names[EXCEPTION_VECTORS] = {
    "divide error (#DE)", "debug (#DB)", "non-maskable interrupt (NMI)", "breakpoint (#BP)",
    "overflow (#OF)", "bound range exceeded (#BR)", "invalid opcode (#UD)",
    "device not available (#NM)", "double fault (#DF)", "coprocessor segment overrun",
    "invalid TSS (#TS)", "segment not present (#NP)", "stack-segment fault (#SS)",
    "general protection (#GP)", "page fault (#PF)", "reserved vector 15",
    "x87 floating-point error (#MF)", "alignment check (#AC)", "machine check (#MC)",
    "SIMD floating-point (#XM)", "virtualization exception (#VE)", "control protection (#CP)",
    "reserved vector 22", "reserved vector 23", "reserved vector 24", "reserved vector 25",
    "reserved vector 26", "reserved vector 27", "hypervisor injection (#HV)",
    "VMM communication (#VC)", "security exception (#SX)", "reserved vector 31",
};

const char *trap_name(unsigned vector)
{
    return vector < EXCEPTION_VECTORS ? names[vector] : "interrupt";
}

void trap_register(unsigned vector, trap_handler handler) { vector_handlers[vector] = handler; }
void trap_register_user_fault_hook(user_fault_hook hook) { user_fault_handler = hook; }

/* A double fault is the CPU giving up on delivering some other exception, most often because the
 * stack it had to push on is gone. Name the stack when the fault address is in a guard page. */
static NOKPROBE __attribute__((noreturn)) void double_fault(const struct trap_frame *frame)
{
    uint64_t cr2 = read_cr2();
    const char *owner = stack_guard_owner(cr2);
    if (!owner)
        owner = stack_guard_owner(frame->rsp);
    if (owner)
        panic_trap(frame, "double fault (#DF), on its own IST stack: stack overflow, "
                   "CR2 %016lx is in the guard page below the %s stack", cr2, owner);
    panic_trap(frame, "double fault (#DF), on its own IST stack");
}

static NOKPROBE __attribute__((noreturn)) void page_fault_panic(const struct trap_frame *frame)
{
    uint64_t error = frame->error_code; /* bit 4 an instruction fetch, bit 1 a write */
    const char *access = error & 2 ? "write" : "read";
    if (error & 16)
        access = "instruction fetch";
    const char *owner = stack_guard_owner(read_cr2());
    const char *kind = error & 1 ? "protection violation on" : "not-present page on";
    const char *overflow = owner ? ": stack overflow into the guard page of the " : "";
    panic_trap(frame, "page fault (#PF) at %016lx: %s %s in %s mode%s%s%s", read_cr2(), kind,
               access, error & 4 ? "user" : "kernel",
               error & 8 ? ", reserved bit set" : "", overflow, owner ? owner : "");
}

uint64_t early_nmis;

NOKPROBE void trap_dispatch(struct trap_frame *frame)
{
    unsigned vector = (unsigned)frame->vector;
    /* Only until nmi_init() installs an NMI entry: counted, and reported there. */
    if (vector == VECTOR_NMI) {
        early_nmis++;
        return;
    }
    /* A user task's fault kills it and the kernel goes on; a #DF or #MC is the machine's
     * trouble. */
    if (vector < EXCEPTION_VECTORS && vector != VECTOR_DOUBLE_FAULT &&
        vector != VECTOR_MACHINE_CHECK && (frame->cs & 3) && user_fault_handler)
        user_fault_handler(frame);
    if (vector < VECTORS && vector_handlers[vector] && vector_handlers[vector](frame))
        return;
    if (vector == VECTOR_SPURIOUS)
        return; /* the APIC withdrew an interrupt: nothing to do, and no EOI */
    if (vector == VECTOR_DOUBLE_FAULT)
        double_fault(frame);
    if (vector == VECTOR_PAGE_FAULT)
        page_fault_panic(frame);
    if (vector >= EXCEPTION_VECTORS)
        panic_trap(frame, "interrupt on vector %u, which nothing handles", vector);
    /* A #DB in ring 0 that no handler claimed is the program's doing (docs/nmi.md: Bochs's single
     * step onto syscall_entry, and CVE-2018-8897). Noted and resumed, with RF set, so that an
     * instruction breakpoint does not fire again, and DR6's status bits cleared (the CPU never
     * clears them). */
    if (vector == VECTOR_DEBUG && !(frame->cs & 3)) {
        uint64_t dr6;
        __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
        printk("debug: #DB in ring 0 at %016lx, DR6 %lx: the program's; resumed\n", frame->rip,
               dr6);
        __asm__ volatile("mov %0, %%dr6" : : "r"(DR6_CLEAR));
        frame->rflags |= RFLAGS_RF;
        return;
    }
    panic_trap(frame, "unhandled %s, error code 0x%lx", trap_name(vector), frame->error_code);
}
