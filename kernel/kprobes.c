/* kprobes. Registering a probe writes int3 (0xcc) over the first byte of the function; when it
 * is hit, the int3 handler (arch/x86_64/breakpoint.c) calls kprobe_hit(), which runs the
 * pre-handler and resumes at the probe's trampoline: a copy of the instruction that int3
 * replaced, followed by a jump to the instruction after it. Copying an instruction elsewhere is
 * only correct when it does not depend on where it runs; every function compiled with frame
 * pointers begins with `push %rbp`, which does not, so that is the one form nmilab accepts. */
#include <arch/x86_64/faults.h>
#include <kernel/kprobes.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <kernel/string.h>

#define KPROBES_MAX 8
#define INT3 0xcc
#define PUSH_RBP 0x55

static struct kprobe *probes[KPROBES_MAX];

static NOKPROBE bool kprobe_hit(struct trap_frame *frame)
{
    for (int i = 0; i < KPROBES_MAX; i++) {
        struct kprobe *p = probes[i];
        if (!p || p->address != frame->rip - 1)
            continue;
        /* LAB 6 BEGIN: count the hit, run the pre-handler, and resume at the trampoline */
        p->hits++;
        if (p->pre_handler)
            p->pre_handler(p, frame);
        frame->rip = (uint64_t)p->trampoline;
        return true;
        /* LAB 6 STUB */
        //| return false;
        /* LAB 6 END */
    }
    return false;
}

NOKPROBE int register_kprobe(struct kprobe *p)
{
    p->address = symbol_address(p->symbol);
    if (!p->address) {
        printk("kprobe: there is no kernel function named '%s'\n", p->symbol);
        return -1;
    }
    if (p->address >= (uint64_t)noprobe_start && p->address < (uint64_t)noprobe_end) {
        printk("kprobe: %s is on the int3, page-fault or NMI entry path (or in kprobes itself): "
               "a probe there would recurse; refused\n", p->symbol);
        return -1;
    }
    uint8_t first = *(volatile uint8_t *)p->address;
    if (first != PUSH_RBP) {
        printk("kprobe: %s begins with byte 0x%x, not push %%rbp (0x55):"
               " it cannot be probed here\n", p->symbol, first);
        return -1;
    }
    int slot = 0;
    while (slot < KPROBES_MAX && probes[slot])
        slot++;
    if (slot == KPROBES_MAX || !register_int3_hook(p->address, kprobe_hit)) {
        printk("kprobe: no room for another probe\n");
        return -1;
    }
    /* push %rbp; jmp *0(%rip); .quad address + 1 */
    static const uint8_t jump_back[] = {PUSH_RBP, 0xff, 0x25, 0, 0, 0, 0};
    uint64_t resume = p->address + 1;
    memcpy(p->trampoline, jump_back, sizeof jump_back);
    memcpy(p->trampoline + sizeof jump_back, &resume, sizeof resume);
    p->saved_byte = first;
    p->hits = 0;
    probes[slot] = p;
    /* Kernel text is writable, and the CPU sees its own store. */
    *(volatile uint8_t *)p->address = INT3;
    return 0;
}

NOKPROBE void unregister_kprobe(struct kprobe *p)
{
    *(volatile uint8_t *)p->address = p->saved_byte;
    unregister_int3_hook(p->address);
    for (int i = 0; i < KPROBES_MAX; i++)
        if (probes[i] == p)
            probes[i] = NULL;
}
