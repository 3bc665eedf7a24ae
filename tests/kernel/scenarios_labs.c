/* Scenarios that check a lab's whole contract (docs/labs/), each failing with a message in the
 * lab's own terms as soon as it sees what is wrong, never by a timeout:
 *   idt-gates       lab 1: every IDT gate read back; interrupts off in a handler; int N from ring 3
 *   exception-table lab 2: every entry of the table, faults at entries of its own, one not in it
 *   naive-own-copy  lab 3: an NMI whose own frame is overwritten, with no nested NMI to see it
 *   nmi-below-entry lab 4: first NMIs that interrupt code below and above the NMI entry in memory
 *   nmi-repeat-window-end  lab 4: an NMI on the first instruction after the repeat window
 *   watchdog-twice  lab 5: no report without a lockup, one per lockup, the next one too
 *   kprobe-two      lab 6: two probes at once: each hit runs its own probe */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/nmi_stack.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <kernel/kprobes.h>
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <kernel/string.h>
#include <kernel/task.h>
#include <kernel/user.h>
#include <kernel/vmalloc.h>
#include <kernel/watchdog.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>

/* ---- idt-gates (lab 1) ---- */

struct gate_view { /* an IDT gate as the CPU reads it (Intel SDM vol. 3, 6.14.1) */
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_middle;
    uint32_t offset_high, reserved;
} __attribute__((packed));

#define GATE_PRESENT 0x80
#define GATE_INTERRUPT 0xe
#define GATE_TRAP 0xf

extern char nmi_entry_nested[], nmi_entry_latch[], nmi_entry_naive[], repeat_nmi[];

/* What vector v's gate must hold: its entry (with the clac in front where the CPU has SMAP), the
 * kernel code selector, DPL 0, an interrupt gate, and an IST stack for the four that need one. */
static unsigned expected_ist(unsigned vector)
{
    switch (vector) {
    case VECTOR_DEBUG:
        return IST_DEBUG;
    case VECTOR_NMI:
        return nmi_current_strategy() == NMI_LATCH ? 0 : IST_NMI;
    case VECTOR_DOUBLE_FAULT:
        return IST_DOUBLE_FAULT;
    case VECTOR_MACHINE_CHECK:
        return IST_MACHINE_CHECK;
    default:
        return 0;
    }
}

static uint64_t expected_handler(unsigned vector)
{
    uint64_t entry = trap_entry_table[vector];
    if (vector == VECTOR_NMI && nmi_current_strategy() == NMI_NESTED)
        entry = (uint64_t)nmi_entry_nested;
    else if (vector == VECTOR_NMI && nmi_current_strategy() == NMI_LATCH)
        entry = (uint64_t)nmi_entry_latch;
    else if (vector == VECTOR_NMI)
        entry = (uint64_t)nmi_entry_naive;
    return entry - (cpuid_leaf7_ebx() & CPUID7_SMAP ? CLAC_BYTES : 0);
}

/* One gate against what it must be; false (with the first thing wrong said) if it is not. */
static bool gate_right(unsigned v, const struct gate_view *g)
{
    unsigned dpl = g->type >> 5 & 3, kind = g->type & 0xf;
    uint64_t handler = g->offset_low | (uint64_t)g->offset_middle << 16 |
                       (uint64_t)g->offset_high << 32;
    if (!(g->type & GATE_PRESENT))
        return expect(false, "gate %u is not present (type 0x%x): 0x8e has the present bit", v,
                      g->type);
    if (kind == GATE_TRAP)
        return expect(false, "gate %u is a trap gate (type 0x%x): interrupts stay on in its "
                      "handler; 0x8e is an interrupt gate", v, g->type);
    if (kind != GATE_INTERRUPT)
        return expect(false, "gate %u has type 0x%x, not a 64-bit interrupt gate (0x8e)", v,
                      g->type);
    if (dpl != 0)
        return expect(false, "gate %u has DPL %u (type 0x%x): user mode may `int %u` into it; "
                      "0x8e is DPL 0", v, dpl, g->type, v);
    if (g->selector != KERNEL_CODE_SELECTOR)
        return expect(false, "gate %u has selector 0x%x, not KERNEL_CODE_SELECTOR (0x%x)", v,
                      g->selector, KERNEL_CODE_SELECTOR);
    if (handler != expected_handler(v))
        return expect(false, "gate %u points at %lx, not its handler %lx (the address in three "
                      "pieces)", v, handler, expected_handler(v));
    if (g->ist != expected_ist(v))
        return expect(false, "gate %u has IST %u, not %u: idt_set_gate() must store its ist "
                      "argument", v, g->ist, expected_ist(v));
    return expect(g->reserved == 0, "gate %u: its reserved word is %x, not 0", v, g->reserved);
}

static uint64_t flags_in_handler;
static bool note_flags(struct trap_frame *frame)
{
    flags_in_handler = read_rflags();
    frame->rip += 2; /* past the ud2 */
    return true;
}

/* int N from ring 3, for vectors each kind of gate has: every one must be a #GP. */
static const unsigned user_vectors[] = {0, 1, 2, 3, 4, 6, 8, 13, 14, 18, 32, 0x80, 0xff};

static enum scenario_result idt_gates(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    const struct gate_view *gates = (const struct gate_view *)idtr.base;
    int wrong = 0;
    for (unsigned v = 0; v < VECTORS; v++)
        wrong += !gate_right(v, &gates[v]);
    if (wrong) {
        printk("# idt-gates: %d of 256 gates are not what their vector needs\n", wrong);
        return SCENARIO_FAIL; /* the tests below would run through those gates */
    }
    /* An exception taken with interrupts on: its handler must run with them off. */
    uint64_t flags = read_rflags();
    trap_register(VECTOR_INVALID_OPCODE, note_flags);
    interrupts_enable();
    __asm__ volatile("ud2");
    if (!(flags & RFLAGS_IF))
        interrupts_disable();
    trap_register(VECTOR_INVALID_OPCODE, NULL);
    expect(!(flags_in_handler & RFLAGS_IF), "the #UD handler ran with interrupts on: a timer "
           "interrupt could arrive inside it");
    if (nmi_current_strategy() != NMI_NESTED)
        return SCENARIO_PASS; /* user mode runs only there */
    for (unsigned i = 0; i < sizeof user_vectors / sizeof user_vectors[0]; i++) {
        unsigned v = user_vectors[i];
        user_result_clear();
        if (!expect(user_run("int", v, true), "the user program int did not start"))
            break;
        /* The error code names the gate: vector * 8 + 2 (IDT); QEMU's TCG gives vector * 16 + 2. */
        uint64_t error = user_last.fault.error_code;
        bool names_gate = error == v * 8 + 2 || error == v * 16 + 2;
        expect(user_last.killed && user_last.fault.vector == VECTOR_GENERAL_PROTECTION &&
                   names_gate, "int %u from user mode was not killed by #GP on its gate: %s "
               "vector %lu, error code 0x%lx", v, user_last.killed ? "killed by" : "exited; last",
               user_last.fault.vector, error);
    }
    printk("# idt-gates: 256 gates as each vector needs; int N from user mode is a #GP\n");
    return SCENARIO_PASS;
}

/* ---- exception-table (lab 2) ---- */

struct table_pair {
    uint64_t instruction, fixup;
};
extern const struct table_pair exception_table_start[], exception_table_end[]; /* linker.ld */

/* Three faulting reads, each with a fixup of its own that says which one ran. */
static int fault_at_entry(int which)
{
    int fixed_by = 0;
    __asm__ volatile("cmp $1, %[which]\n"
                     "je 1f\n"
                     "cmp $2, %[which]\n"
                     "je 2f\n"
                     "jmp 3f\n"
                     "1: movq (%[bad]), %%rax\n"
                     "jmp 9f\n"
                     "2: movq 8(%[bad]), %%rax\n"
                     "jmp 9f\n"
                     "3: movq 16(%[bad]), %%rax\n"
                     "jmp 9f\n"
                     ".pushsection .exception_table, \"a\"\n"
                     ".quad 1b, 11f, 2b, 12f, 3b, 13f\n"
                     ".popsection\n"
                     ".pushsection .text.fixup, \"ax\"\n"
                     "11: movl $1, %[fixed_by]\n"
                     "jmp 9f\n"
                     "12: movl $2, %[fixed_by]\n"
                     "jmp 9f\n"
                     "13: movl $3, %[fixed_by]\n"
                     "jmp 9f\n"
                     ".popsection\n"
                     "9:\n"
                     : [fixed_by] "+r"(fixed_by)
                     : [which] "r"(which), [bad] "r"(UNMAPPED_ADDRESS)
                     : "rax", "memory", "cc");
    return fixed_by;
}

static enum scenario_result exception_table(void)
{
    long entries = exception_table_end - exception_table_start;
    expect(entries >= 6, "the exception table has %ld entries, not at least 6", entries);
    for (long i = 0; i < entries; i++) {
        const struct table_pair *e = &exception_table_start[i];
        struct trap_frame frame = {.vector = VECTOR_PAGE_FAULT, .rip = e->instruction};
        bool found = exception_table_fixup(&frame);
        expect(found && frame.rip == e->fixup, "a fault at entry %ld of %ld (%lx) %s %lx, not at "
               "its fixup %lx", i, entries, e->instruction, found ? "resumed at" : "was not found;",
               frame.rip, e->fixup);
    }
    /* Not in the table: the lookup must say so and leave the frame alone (traps.c panics). */
    uint64_t strangers[] = {(uint64_t)exception_table, exception_table_start[0].instruction + 1};
    for (unsigned i = 0; i < sizeof strangers / sizeof strangers[0]; i++) {
        struct trap_frame frame = {.vector = VECTOR_PAGE_FAULT, .rip = strangers[i]};
        bool found = exception_table_fixup(&frame);
        expect(!found && frame.rip == strangers[i], "a fault at %lx, not in the table, was %s "
               "(RIP now %lx): it must return false", strangers[i],
               found ? "fixed up" : "refused but changed", frame.rip);
    }
    if (scenario_failed())
        return SCENARIO_FAIL; /* a real fault sent to a wrong fixup would run it on our stack */
    for (int which = 1; which <= 3; which++) {
        int fixed_by = fault_at_entry(which);
        expect(fixed_by == which, "a real fault at this scenario's entry %d resumed at fixup %d",
               which, fixed_by);
    }
    printk("# exception-table: %ld entries, each to its own fixup; a RIP not in it refused\n",
           entries);
    return SCENARIO_PASS;
}

/* ---- naive-own-copy (lab 3) ---- */

/* The check compares the frame at the IST top with every running NMI's copy, its own included.
 * A real overwrite is always seen first by the nested NMI (its check reaches depth 0); here the
 * scenario's own pass writes a nested NMI's frame over the outermost NMI's, so only that NMI's
 * check of its own copy (k == depth == 0) can see it. Missed, its iretq comes here. */
static uint64_t own_copy_stack[1024] __attribute__((aligned(16)));
static volatile uint64_t own_copy_expected_rip;

static __attribute__((noreturn)) void own_copy_missed(void)
{
    printk("# naive-own-copy: the NMI at depth 0 returned through a frame it did not arrive with "
           "(it arrived from %lx)\n", own_copy_expected_rip);
    expect(false, "the NMI at depth 0 returned through an overwritten frame: compare every k "
           "from 0 to its own depth, its own copy too");
    scenario_complete(SCENARIO_FAIL);
}

static void overwrite_own_frame(uint64_t pass)
{
    struct iret_frame *top = (struct iret_frame *)(ist_stack_top(IST_NMI) - sizeof *top);
    if (pass != 1 || nmi_this_cpu()->naive_depth != 1)
        return;
    own_copy_expected_rip = top->rip;
    top->rip = (uint64_t)own_copy_missed; /* entered as by a call: RSP + 8 16-byte aligned */
    top->rsp = (uint64_t)&own_copy_stack[1024 - 1];
    top->rflags &= ~RFLAGS_IF;
}

static enum scenario_result naive_own_copy(void)
{
    if (nmi_current_strategy() != NMI_NAIVE) {
        scenario_skip_reason("the naive strategy's overwrite check is what this scenario tests");
        return SCENARIO_SKIP;
    }
    if (!scenario_nmi_start(overwrite_own_frame, false))
        return SCENARIO_SKIP;
    printk("# naive-own-copy: one NMI, its frame overwritten in its own pass\n");
    send_self_nmi();
    spin_until(&provoke_passes, 1);
    nmi_provoke_stop();
    expect(false, "the NMI came back here: its frame was not overwritten");
    return SCENARIO_FAIL;
}

/* ---- nmi-below-entry (lab 4) ---- */

static volatile uint64_t landed_at; /* where the runner's NMI interrupted: 0 until it is handled */

static bool note_landing(struct trap_frame *frame)
{
    landed_at = nmi_this_cpu()->interrupted_rip;
    return true;
}

/* The spin: until an NMI has been handled, or the TSC passes the deadline. Copied into the
 * vmalloc area (below the kernel image, and so below the NMI entry) and run there. */
__asm__(".pushsection .rodata\n"
        "below_spin_start:\n"
        "    mov %rdi, %r9\n"
        "    movabs $landed_at, %r8\n"
        "1:  pause\n"
        "    cmpq $0, (%r8)\n"
        "    jne 2f\n"
        "    rdtsc\n"
        "    shl $32, %rdx\n"
        "    or %rdx, %rax\n"
        "    cmp %r9, %rax\n"
        "    jb 1b\n"
        "2:  ret\n"
        "below_spin_end:\n"
        ".popsection");
extern const char below_spin_start[], below_spin_end[];

static __attribute__((noinline)) void spin_above(uint64_t deadline)
{
    while (!landed_at && rdtsc() < deadline)
        cpu_relax();
}

/* The runner sends one NMI once the line is printed; interrupts are off, so it lands in the spin.
 * True when it was handled there. */
static bool nmi_lands_in(void (*spin)(uint64_t), uint64_t start, uint64_t end, const char *where)
{
    landed_at = 0;
    uint64_t flags = read_rflags();
    interrupts_disable();
    printk("# below-entry: spinning %s the NMI entry, at %lx\n", where, start);
    spin(rdtsc() + 3000 * tsc_khz);
    if (flags & RFLAGS_IF)
        interrupts_enable();
    if (!landed_at)
        return expect(false, "a first NMI at %lx (%s the NMI entry) was lost: rule (a) took "
                      "it for the repeat window", start, where);
    return expect(landed_at >= start && landed_at < end, "the NMI landed at %lx, not in the spin "
                  "at %lx", landed_at, start);
}

static enum scenario_result nmi_below_entry(void)
{
    size_t size = (size_t)(below_spin_end - below_spin_start);
    void *text = vmalloc(size);
    if (!expect(text != NULL, "vmalloc failed"))
        return SCENARIO_FAIL;
    memcpy(text, below_spin_start, size);
    *(volatile uint8_t *)text; /* the vmalloc fault, if any, now and not in the spin */
    register_nmi_handler("below-entry", note_landing);
    uint64_t below = (uint64_t)text, above = (uint64_t)spin_above;
    expect(below < (uint64_t)repeat_nmi && above > (uint64_t)repeat_nmi,
           "the spins are not below and above repeat_nmi");
    if (nmi_lands_in((void (*)(uint64_t))text, below, below + size, "below"))
        nmi_lands_in(spin_above, above, above + 0x100, "above");
    unregister_nmi_handler(note_landing);
    return SCENARIO_PASS;
}

/* ---- nmi-repeat-window-end (lab 4) ---- */

extern char end_repeat_nmi[]; /* nmi_entry.asm */

static void nmi_pending_then_fault(uint64_t pass)
{
    if (pass == 1) {
        send_self_nmi();
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
    }
}

/* The first instruction after the repeat window, in a repeat pass (NMIs unblocked, "NMI
 * executing" 1): an NMI there is nested, rule (b), and asks for one more pass. */
static enum scenario_result nmi_repeat_window_end(void)
{
    if (nmi_current_strategy() != NMI_NESTED) {
        scenario_skip_reason("the repeat window exists only in nmi=nested");
        return SCENARIO_SKIP;
    }
    if (!scenario_nmi_start(nmi_pending_then_fault, true))
        return SCENARIO_SKIP;
    wait_for_debugger("break at nmi_exit_iretq before repeat_nmi, step to end_repeat_nmi, inject");
    send_self_nmi();
    spin_until(&provoke_passes, 2);
    nmi_provoke_stop();
    const struct nmi_cpu_state *cpu = nmi_this_cpu();
    expect(cpu->nested_rip == (uint64_t)end_repeat_nmi, "the NMI landed at %lx, not at "
           "end_repeat_nmi", cpu->nested_rip);
    if (cpu->nested_rule != NESTED_EXECUTING)
        expect(false, "an NMI at end_repeat_nmi, past the repeat window, was taken by rule %s, "
               "not (b): the window ends before end_repeat_nmi", rule_name(cpu->nested_rule));
    expect(provoke_passes == 3, "%lu handler passes, not 3: the NMI at end_repeat_nmi was lost",
           provoke_passes);
    printk("# repeat window end: an NMI at end_repeat_nmi was taken by rule %s\n",
           rule_name(cpu->nested_rule));
    return SCENARIO_PASS;
}

/* ---- watchdog-twice (lab 5) ---- */

/* Each report is timed from the lockup's start (interrupts off). Not sooner than the threshold,
 * less 100 ms (the host may stop the CPU a while between the tick's last move and the start):
 * timed after its dump. Not later than the threshold, two check intervals (the check that sees
 * the tick's last move and the one that reports may each come an interval late) and
 * REPORT_LATE_MS for a busy host: timed from when the reporting NMI came in. A correct check, 41
 * boots on the 2-core machine, up to six at once: 998-1093 ms at 20 checks a second, 929-1038 ms
 * at 100, at most 18 ms past the threshold and two intervals. The second lockup runs with the
 * PIT at five times the watchdog's rate: a report decided on elapsed time comes at the same
 * moment, one that counts checks five times sooner. */
#define TWICE_THRESHOLD 1 /* seconds */
#define REPORT_LATE_MS 500
#define WATCHDOG_CHECKS_PER_SECOND 20 /* kernel/watchdog.c's, as lab 5 states it */
#define FAST_CHECKS_PER_SECOND (5 * WATCHDOG_CHECKS_PER_SECOND)
static volatile uint64_t reports, report_tsc[8];
static uint64_t report_arrived_tsc; /* the last TSC the lockup's spin read before the report */
static uint64_t reported_after_ms[2];

static void count_report(int dumped, uint64_t nested)
{
    if (reports < 8)
        report_tsc[reports] = rdtsc();
    reports++;
}

/* Interrupts off (the tick stops) for `milliseconds`, or until the report count reaches `until`;
 * returns when the lockup started. The spin reads the TSC, then `reports`: when the report has
 * come, the last TSC it kept is from just before the reporting NMI came in. */
static uint64_t lock_up(uint64_t milliseconds, uint64_t until)
{
    interrupts_disable();
    uint64_t start = rdtsc(), now;
    report_arrived_tsc = start;
    while ((now = rdtsc()) - start < milliseconds * tsc_khz && reports < until) {
        report_arrived_tsc = now;
        cpu_relax();
    }
    return start;
}

/* One lockup: reported once, on time; then 300 ms more of it, no more reports. */
static bool lockup_reported_once(int number, unsigned checks_per_second)
{
    uint64_t before = reports;
    uint64_t start = lock_up(3000 * TWICE_THRESHOLD, before + 1);
    uint64_t after_ms = (report_tsc[before] - start) / tsc_khz;
    uint64_t arrived_ms = (report_arrived_tsc - start) / tsc_khz;
    uint64_t latest_ms = TWICE_THRESHOLD * 1000 + 2000 / checks_per_second + REPORT_LATE_MS;
    bool reported = reports > before;
    if (reported)
        lock_up(300, ~0UL);
    interrupts_enable();
    if (!reported)
        return expect(false, "lockup %d (interrupts off for %d s) was not reported%s", number,
                      3 * TWICE_THRESHOLD, number > 1 ? ": clear `reported` when the tick moves"
                                                      : "");
    reported_after_ms[number - 1] = arrived_ms;
    printk("# watchdog-twice: lockup %d reported %lu ms after the interrupts went off (its dump "
           "done at %lu ms), at %u checks a second\n", number, arrived_ms, after_ms,
           checks_per_second);
    bool soon = after_ms < TWICE_THRESHOLD * 1000 - 100;
    if (soon && checks_per_second != WATCHDOG_CHECKS_PER_SECOND)
        return expect(false, "lockup %d was reported after %lu ms at %u checks a second: sooner "
                      "than %d s; decide on time, not on a count of checks", number, after_ms,
                      checks_per_second, TWICE_THRESHOLD);
    if (!expect(!soon, "lockup %d was reported after %lu ms: sooner than the threshold (%d s)",
                number, after_ms, TWICE_THRESHOLD))
        return false;
    if (!expect(arrived_ms <= latest_ms, "lockup %d was reported after %lu ms: later than the "
                "threshold (%d s) allows (%lu ms at most)", number, arrived_ms, TWICE_THRESHOLD,
                latest_ms))
        return false;
    return expect(reports == before + 1, "lockup %d was reported %lu times: once per lockup "
                  "(`reported`)", number, reports - before);
}

static enum scenario_result watchdog_twice(void)
{
    if (!expect(watchdog_running() || watchdog_start(TWICE_THRESHOLD), "the watchdog has no NMI"
                " source here (the lines above say which were tried): boot one CPU with a PIT"))
        return SCENARIO_FAIL;
    if (!expect(!memcmp(watchdog_source(), "PIT", 3), "the watchdog's source is %s: this "
                "scenario checks the PIT's (boot one CPU)", watchdog_source()))
        return SCENARIO_FAIL;
    reports = 0;
    watchdog_after_report = count_report;
    /* No lockup: a storm of other NMIs, then interrupts off for less than the threshold. */
    if (!scenario_nmi_start(NULL, false))
        return SCENARIO_SKIP;
    for (int i = 0; i < 20000; i++)
        send_self_nmi();
    spin_until(&self_claimed, self_sent);
    nmi_provoke_stop();
    task_sleep(20);
    lock_up(300, ~0UL);
    interrupts_enable();
    task_sleep(20);
    if (!expect(reports == 0, "a lockup report without a lockup (after 20000 NMIs and 300 ms with "
                "interrupts off): the threshold is %d s", TWICE_THRESHOLD))
        return SCENARIO_FAIL;
    if (lockup_reported_once(1, WATCHDOG_CHECKS_PER_SECOND)) {
        task_sleep(20); /* the tick moves: the watchdog re-arms */
        pit_start_periodic(FAST_CHECKS_PER_SECOND); /* watchdog_stop() below turns it off */
        lockup_reported_once(2, FAST_CHECKS_PER_SECOND);
    }
    watchdog_after_report = NULL;
    watchdog_stop();
    printk("# watchdog-twice: %lu reports for 2 lockups, after %lu and %lu ms\n", reports,
           reported_after_ms[0], reported_after_ms[1]);
    return SCENARIO_PASS;
}

/* ---- kprobe-two (lab 6) ---- */

static volatile uint64_t first_calls, second_calls;
static __attribute__((noinline)) void count_first(void) { first_calls++; }
static __attribute__((noinline)) void count_second(void) { second_calls++; }
__attribute__((noinline)) void lab_probe_first(void);
__attribute__((noinline)) void lab_probe_first(void) { count_first(); }
__attribute__((noinline)) void lab_probe_second(void);
__attribute__((noinline)) void lab_probe_second(void) { count_second(); }

static struct kprobe *pre_handler_saw;
static void note_probe(struct kprobe *probe, struct trap_frame *frame) { pre_handler_saw = probe; }

static enum scenario_result kprobe_two(void)
{
    static struct kprobe first = {.symbol = "lab_probe_first", .pre_handler = note_probe};
    static struct kprobe second = {.symbol = "lab_probe_second", .pre_handler = note_probe};
    if (!expect(register_kprobe(&first) == 0 && register_kprobe(&second) == 0,
                "register_kprobe failed"))
        return SCENARIO_FAIL;
    lab_probe_second();
    expect(pre_handler_saw == &second, "calling lab_probe_second ran the pre-handler of %s's "
           "probe: use the probe at frame->rip - 1", pre_handler_saw ? pre_handler_saw->symbol
                                                                     : "no");
    lab_probe_first();
    expect(pre_handler_saw == &first, "calling lab_probe_first ran the pre-handler of %s's probe",
           pre_handler_saw ? pre_handler_saw->symbol : "no");
    unregister_kprobe(&first);
    unregister_kprobe(&second);
    expect(first.hits == 1 && second.hits == 1, "hits: %lu on lab_probe_first, %lu on "
           "lab_probe_second, not 1 each", first.hits, second.hits);
    expect(first_calls == 1 && second_calls == 1, "lab_probe_first ran %lu times and "
           "lab_probe_second %lu, not once each: each must resume at its own trampoline",
           first_calls, second_calls);
    printk("# kprobe-two: two probes, each hit ran its own\n");
    return SCENARIO_PASS;
}

const struct scenario lab_scenarios[] = {
    {"idt-gates", idt_gates, false},
    {"exception-table", exception_table, false},
    {"naive-own-copy", naive_own_copy, false},
    {"nmi-below-entry", nmi_below_entry, false},
    {"nmi-repeat-window-end", nmi_repeat_window_end, false},
    {"watchdog-twice", watchdog_twice, false},
    {"kprobe-two", kprobe_two, false},
    {0},
};
