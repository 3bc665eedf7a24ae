/* kprobes: int3 over a function's first byte, resumed through a trampoline (docs/stories.md,
 * story 4; lab 6) holding a copy of that byte, `push %rbp`: the one form accepted, it runs the
 * same anywhere. A task may be inside a trampoline when its probe goes: preempted between its two
 * instructions, or just sent there by another CPU's int3. So a trampoline is never rewritten:
 * there is one per probed function, made the first time it is probed and reused only for that
 * function, whose bytes it holds (a second probe on it needs the same ones). */
#include <arch/x86_64/faults.h>
#include <kernel/kprobes.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>

#define KPROBES_MAX 8
#define TRAMPOLINES_MAX 32 /* functions ever probed */
#define INT3 0xcc
#define PUSH_RBP 0x55

static struct kprobe *probes[KPROBES_MAX];
struct trampoline {
    uint8_t code[7]; /* push %rbp; jmp *0(%rip): to the address that follows */
    uint64_t resume; /* the probed function's address + 1; 0 while the trampoline is unused */
} __attribute__((packed));
static struct trampoline trampolines[TRAMPOLINES_MAX];

/* The function's trampoline, made if it has none. */
static const uint8_t *trampoline_for(uint64_t address)
{
    int i = 0;
    while (i < TRAMPOLINES_MAX && trampolines[i].resume && trampolines[i].resume != address + 1)
        i++;
    if (i == TRAMPOLINES_MAX)
        return NULL;
    if (!trampolines[i].resume)
        trampolines[i] = (struct trampoline){{PUSH_RBP, 0xff, 0x25, 0, 0, 0, 0}, address + 1};
    return trampolines[i].code;
}

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
    p->trampoline = trampoline_for(p->address);
    if (!p->trampoline) {
        printk("kprobe: %d functions have been probed, each keeps its trampoline: no room\n",
               TRAMPOLINES_MAX);
        return -1;
    }
    if (slot == KPROBES_MAX || !register_int3_hook(p->address, kprobe_hit)) {
        printk("kprobe: no room for another probe\n");
        return -1;
    }
    p->hits = 0;
    probes[slot] = p;
    /* Kernel text is writable, and the CPU sees its own store. */
    *(volatile uint8_t *)p->address = INT3;
    return 0;
}

NOKPROBE void unregister_kprobe(struct kprobe *p)
{
    *(volatile uint8_t *)p->address = PUSH_RBP; /* the only first byte register_kprobe takes */
    unregister_int3_hook(p->address);
    for (int i = 0; i < KPROBES_MAX; i++)
        if (probes[i] == p)
            probes[i] = NULL;
}
