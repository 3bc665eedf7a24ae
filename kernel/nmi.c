/* The C half of NMI handling (docs/nmi.md, "Four strategies"): choosing the entry strategy, the
 * handler chain they all run, naive's overwrite check and the latch's state machine. Everything
 * here may run in NMI context: no locks, no waiting, no deadlock with what it interrupted. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <kernel/cmdline.h>
#include <kernel/kprobes.h>
#include <kernel/nmi.h>
#include <kernel/nmi_trace.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <kernel/string.h>
#include <kernel/task.h>

#define NMI_HANDLERS_MAX 8
#define SYSTEM_CONTROL_PORT_B 0x61 /* the PC's legacy NMI reasons */
#define PORT_B_SERR (1u << 7)      /* a PCI system error or memory parity error */
#define PORT_B_IOCHK (1u << 6)     /* an ISA/LPC channel check */

static enum nmi_strategy strategy = NMI_NESTED;
static nmi_handler handlers[NMI_HANDLERS_MAX];

extern char nmi_entry_nested[], nmi_entry_naive[], nmi_entry_latch[], nmi_entry_ret[];
/* trap_entry.asm: #DB's, #BP's, #GP's and #PF's entries under nmi=ret, then a 0 vector */
extern const struct { uint64_t vector, entry; } ret_exception_entries[];
/* Each strategy's name and NMI entry (naive, naive-raw: one entry, told apart in C). */
static const struct { const char *name, *entry; } strategies[] = {
    [NMI_NESTED] = {"nested", nmi_entry_nested}, [NMI_NAIVE] = {"naive", nmi_entry_naive},
    [NMI_NAIVE_RAW] = {"naive-raw", nmi_entry_naive}, [NMI_LATCH] = {"latch", nmi_entry_latch},
    [NMI_RET] = {"ret", nmi_entry_ret}};

const char *nmi_strategy_name(enum nmi_strategy s) { return strategies[s].name; }

int nmi_strategy_named(const char *name)
{
    for (unsigned i = 0; i < sizeof strategies / sizeof strategies[0]; i++)
        if (!strcmp(strategies[i].name, name))
            return (int)i;
    return -1;
}
enum nmi_strategy nmi_current_strategy(void) { return strategy; }
bool register_nmi_handler(const char *name, nmi_handler handler)
{
    for (int i = 0; i < NMI_HANDLERS_MAX; i++)
        if (!handlers[i]) {
            handlers[i] = handler;
            return true;
        }
    return false;
}

void unregister_nmi_handler(nmi_handler handler)
{
    for (int i = 0; i < NMI_HANDLERS_MAX; i++)
        if (handlers[i] == handler)
            handlers[i] = NULL;
}

/* The legacy reasons a PC's chipset raises NMI for. Reporting and clearing them claims the NMI. */
static bool legacy_reason(void)
{
    uint8_t reason = inb(SYSTEM_CONTROL_PORT_B);
    if (!(reason & (PORT_B_SERR | PORT_B_IOCHK)))
        return false;
    printk("NMI: port 0x61 reports%s%s\n",
           reason & PORT_B_SERR ? " SERR (PCI system / memory parity error)" : "",
           reason & PORT_B_IOCHK ? " IOCHK (I/O channel check)" : "");
    /* Clear the latches: set and then clear their enable bits (2 and 3), keeping the low bits. */
    outb(SYSTEM_CONTROL_PORT_B, (reason & 0x0f) | 0x0c);
    outb(SYSTEM_CONTROL_PORT_B, reason & 0x03);
    return true;
}

/* One pass of the handler chain: what every strategy runs, once per NMI or once more for a nested
 * one. CR2 is put back if it changed: this NMI may have landed before a page-fault handler read it
 * (docs/nmi.md, "Four strategies"; scenario nmi-cr2). */
static void nmi_dispatch(struct trap_frame *frame)
{
    uint64_t cr2 = read_cr2();
    struct nmi_cpu_state *cpu = nmi_this_cpu();
    cpu->passes++;
    cpu->in_handler = 1;
    bool claimed = false;
    for (int i = 0; i < NMI_HANDLERS_MAX; i++)
        if (handlers[i] && handlers[i](frame))
            claimed = true;
    if (!claimed && !legacy_reason()) {
        cpu->unknown++;
        printk("NMI: unknown NMI (#%lu) at %lx: no handler claimed it"
               " and port 0x61 shows no reason\n", cpu->unknown, cpu->interrupted_rip);
    }
    cpu->in_handler = 0;
    /* LAB 5 BEGIN: put back the CR2 that the interrupted code may not have read yet */
#ifdef NMI_DROP_CR2_RESTORE /* `make NMI_BREAK=cr2-restore`: see docs/nmi.md */
    (void)cr2;
#else
    if (read_cr2() != cr2)
        write_cr2(cr2); /* a CR2 write is slow (serializing): only when it changed */
#endif
    /* LAB 5 STUB */
    //| (void)cr2;
    /* LAB 5 END */
}

void nmi_show_interrupted(const struct trap_frame *frame)
{
    /* Where the NMI interrupted is told by where the frame is, not by the strategy (another CPU
     * may just have changed it): only the nested entry from kernel mode puts it at the top of the
     * NMI stack, where frame->rip may already point at repeat_nmi and the outermost frame holds
     * it. From user mode it is on the task's stack, in the frame itself. */
    const struct iret_frame *at = (const struct iret_frame *)&frame->rip;
    if (at == &nmi_stack_top()->iret)
        at = &nmi_stack_top()->outermost;
    struct trap_frame interrupted = *frame;
    memcpy(&interrupted.rip, at, sizeof *at); /* rip cs rflags rsp ss: the tail of a trap frame */
    print_registers(&interrupted);
    if (at->cs & 3) /* the program's RBP is whatever it chose: the kernel never follows it */
        printk("  in user mode, program %s: RIP %016lx RSP %016lx (its stack is not walked)\n",
               task_get(task_current())->name, at->rip, at->rsp);
    else
        backtrace_print(at->rip, frame->rbp);
}

enum { LATCH_NOT_RUNNING, LATCH_EXECUTING, LATCH_LATCHED };

/* latch: the i386 way. The NMI runs on the interrupted stack, so a nested NMI cannot overwrite
 * anything; it only has to be turned into one more pass of the handler that is running. The
 * nested strategy runs NMIs from user mode through here too (nmi_entry.asm). */
NOKPROBE void nmi_latch_handle(struct trap_frame *frame)
{
    struct nmi_cpu_state *cpu = nmi_this_cpu();
    if (cpu->latch_state != LATCH_NOT_RUNNING) { /* nested: leave a note and return at once */
        cpu->latch_state = LATCH_LATCHED;
        cpu->nested++;
        cpu->nested_rule = NESTED_LATCHED;
        cpu->nested_rip = frame->rip;
        cpu->nested_rsp = frame->rsp;
        return;
    }
    cpu->latch_state = LATCH_EXECUTING;
    cpu->interrupted_rip = frame->rip;
    for (;;) {
        nmi_dispatch(frame);
        /* Done unless a nested NMI latched meanwhile. Test and clear in one instruction: a nested
         * NMI landing between a separate test and clear would be lost. */
        uint64_t expected = LATCH_EXECUTING;
        if (__atomic_compare_exchange_n(&cpu->latch_state, &expected, LATCH_NOT_RUNNING, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return;
        cpu->latch_state = LATCH_EXECUTING;
    }
}

/* The latch strategy's IDT entry: it runs on whatever stack was in use, so its asm cannot find
 * this CPU's state from RSP to count the NMI, as the nested entry does on its IST stack. */
NOKPROBE void nmi_latch_entry(struct trap_frame *frame)
{
    nmi_this_cpu()->entries++;
    nmi_latch_handle(frame);
}

/* nested: the entry did all the work; the interrupted context is in the outermost frame. */
NOKPROBE void nmi_nested_handle(struct trap_frame *frame)
{
    const struct nmi_stack *stack = (const struct nmi_stack *)&frame->rip;
    struct nmi_cpu_state *cpu = nmi_this_cpu();
    /* LAB 7 BEGIN: an NMI nested in one from user mode (on the task's stack, under the latch) */
    if (cpu->latch_state != LATCH_NOT_RUNNING) {
        nmi_latch_handle(frame); /* latches it: the NMI from user mode runs another pass */
        return;
    }
    /* LAB 7 STUB */
    /* LAB 7 END */
    cpu->interrupted_rip = stack->outermost.rip;
    nmi_trace_pass_start(frame);
    nmi_dispatch(frame);
    nmi_trace_pass_end(frame);
}

/* naive: each NMI's arrival frame, copied outside the NMI stack, is compared with the IST top's
 * on the way out (lab 3), and a late nested NMI is caught on arrival by its interrupted RSP
 * (docs/nmi.md, "nmi=naive"). What is needed after the handler chain is found again, not kept in
 * locals: the nested NMI wrote over them. */
static NOKPROBE void naive_overwrite_report(int depth, const struct iret_frame *found)
{
    const struct iret_frame *arrived = &nmi_this_cpu()->naive_arrival[depth];
    printk("NMI frame overwritten by nested NMI: the NMI at depth %d "
           "expected RIP %016lx RSP %016lx, found RIP %016lx RSP %016lx\n",
           depth, arrived->rip, arrived->rsp, found->rip, found->rsp);
    panic("NMI frame overwritten by nested NMI (nmi=%s)", strategies[strategy].name);
}

NOKPROBE void nmi_naive_handle(struct trap_frame *frame)
{
    struct nmi_cpu_state *cpu = nmi_this_cpu();
    cpu->entries++; /* counted in C, as for the latch: the two share their few asm lines */
    if (strategy == NMI_NAIVE && cpu->naive_depth == 0 &&
        frame->rsp - ist_stack_bottom(IST_NMI) < IST_STACK_SIZE)
        naive_overwrite_report(0, (const struct iret_frame *)&frame->rip); /* the late nested NMI */
    int depth = (int)cpu->naive_depth++;
    if (depth < NAIVE_DEPTH_MAX)
        cpu->naive_arrival[depth] = *(const struct iret_frame *)&frame->rip;
    cpu->interrupted_rip = frame->rip;
    if (depth > 0)
        cpu->nested++; /* not detected by the entry, which does not look: counted for the report */
    nmi_dispatch(frame);

    cpu = nmi_this_cpu(); /* again, like everything below: the nested NMI wrote over this frame */
    depth = (int)--cpu->naive_depth;
    frame = (struct trap_frame *)(ist_stack_top(IST_NMI) - sizeof *frame); /* always there */
    /* LAB 3 BEGIN: compare the frame at the IST top with each running NMI's copy; report, panic */
    for (int k = 0; strategy == NMI_NAIVE && k <= depth && k < NAIVE_DEPTH_MAX; k++) {
        const struct iret_frame *arrived = &cpu->naive_arrival[k];
        if (frame->rip == arrived->rip && frame->rsp == arrived->rsp)
            continue;
        naive_overwrite_report(k, (const struct iret_frame *)&frame->rip);
    }
    /* LAB 3 STUB */
    //| (void)frame;
    /* LAB 3 END */
}

/* ret: exceptions return into the handler without iretq (trap_entry.asm), so nothing nests (an NMI
 * that did is reported, as naive's). NMIs from user mode go through the latch, as under nested. */
NOKPROBE void nmi_ret_handle(struct trap_frame *frame)
{
    if (nmi_this_cpu()->latch_state != LATCH_NOT_RUNNING) {
        nmi_latch_entry(frame);
        return;
    }
    nmi_naive_handle(frame);
    if (nmi_this_cpu()->naive_depth) /* it ran inside another NMI, its frame over that one's */
        naive_overwrite_report(0, (const struct iret_frame *)&frame->rip);
}

/* Refused while any CPU runs an NMI handler: a nested NMI would come in through the new gate, in a
 * layout its outer NMI does not share (a check, not a lock: docs/nmi.md, "Several CPUs"). */
bool nmi_set_strategy(enum nmi_strategy s)
{
    for (int i = 0; i < cpu_count; i++)
        if (cpus[i].nmi->in_handler || cpus[i].nmi->latch_state != LATCH_NOT_RUNNING)
            return false;
    /* A CPU may read a gate in pieces (docs/nmi.md, Limits): meanwhile, an entry safe in any mix */
    bool latch_mix = s == NMI_LATCH || strategy == NMI_LATCH; /* the latch's runs on either stack */
    const char *interim = latch_mix ? nmi_entry_latch : nmi_entry_nested; /* nested's: any exits */
    idt_replace_gate(VECTOR_NMI, (uint64_t)interim, IST_NMI);
    udelay(1); /* a delivery that read the old gate's first piece has read the rest */
    for (int i = 0; (s == NMI_RET || strategy == NMI_RET) && ret_exception_entries[i].vector; i++) {
        unsigned v = (unsigned)ret_exception_entries[i].vector; /* to or from ret: its exceptions */
        uint64_t entry = s == NMI_RET ? ret_exception_entries[i].entry : trap_entry_table[v];
        idt_replace_gate(v, entry, v == VECTOR_DEBUG ? IST_DEBUG : 0);
    }
    strategy = s;
    idt_replace_gate(VECTOR_NMI, (uint64_t)strategies[s].entry, s == NMI_LATCH ? 0 : IST_NMI);
    return true;
}

void nmi_init(void)
{
    const char *name = cmdline_get(&kernel_cmdline, "nmi");
    int chosen = name ? nmi_strategy_named(name) : NMI_NESTED;
    if (chosen < 0) {
        printk("nmi: unknown strategy '%s' (use nmi=nested, naive, naive-raw, latch or ret);"
               " using nested\n", name);
        chosen = NMI_NESTED;
    }
    nmi_set_strategy((enum nmi_strategy)chosen);
    printk("nmi: strategy %s\n", strategies[chosen].name);
    if (early_nmis)
        printk("nmi: %lu NMI(s) arrived during boot, before the NMI handlers were ready:"
               " counted, ignored\n", early_nmis);
}
