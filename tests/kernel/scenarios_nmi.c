/* NMI scenarios: nested NMIs provoked on purpose (kernel/nmi_provoke.c), then the counters and
 * the places the NMIs landed are checked. Self-NMIs are sent through the local APIC; NMIs "from
 * outside" come from the test runner (QMP inject-nmi), and for those that need an NMI at one
 * exact instruction the runner also stops the CPU there through QEMU's gdb stub, as a hardware
 * debugger would. */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/nmi_stack.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/traps.h>
#include <kernel/nmi.h>
#include <kernel/nmi_provoke.h>
#include <kernel/nmi_trace.h>
#include <kernel/printk.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>
#include <kernel/string.h>

#define SPIN_LIMIT 400000000UL

extern char repeat_nmi[], end_repeat_nmi[], nmi_exit_iretq[]; /* nmi_entry.asm */
volatile uint64_t scenario_debugger_go; /* set by tests/run.py through the gdb stub: how many episodes */

volatile uint64_t sent_inside; /* nmi-storm: NMIs sent from inside a handler pass */
static struct nmi_cpu_state baseline; /* this CPU's NMI counters when the NMIs began */

extern char nmi_entry_nested[]; /* nmi_entry.asm */

/* Under nmi=nested nothing but a nested NMI can interrupt the entry from its first instruction to
 * the final iretq (NMIs are blocked there, or "NMI executing" is set, or DF marks the exit). A
 * first NMI that did was a nested one the checks missed: it copied its frame over the running
 * one's, and the CPU would loop on the iretq. Said at once, with the rule that must catch it. */
static bool first_nmi_inside_entry(const struct trap_frame *frame)
{
    uint64_t rip = nmi_this_cpu()->interrupted_rip;
    if (nmi_current_strategy() != NMI_NESTED || rip < (uint64_t)nmi_entry_nested ||
        rip > (uint64_t)nmi_exit_iretq)
        return false;
    const char *rule = "(b) NMI executing";
    if (rip >= (uint64_t)repeat_nmi && rip < (uint64_t)end_repeat_nmi)
        rule = "(a) the repeat window";
    else if (rip == (uint64_t)nmi_exit_iretq)
        rule = "(c) the exit window";
    expect(false, "an NMI at %lx, inside the NMI entry, was taken for a first NMI: rule %s "
           "missed it", rip, rule);
    scenario_complete(SCENARIO_FAIL);
}

/* Under nmi=nested a pass of the handler chain never starts inside another: a nested NMI only
 * asks for one more pass. One that does was taken for a first NMI (its frame is over the running
 * one's, and the kernel would hang): said at once. The first handler and the last of the chain
 * (registered around the provoking one) mark the pass. */
static volatile bool in_pass;

static bool pass_begins(struct trap_frame *frame)
{
    const struct nmi_cpu_state *cpu = nmi_this_cpu();
    bool nested = nmi_current_strategy() == NMI_NESTED;
    /* Off the NMI stack, nmi=nested runs only NMIs from user mode (nmi_from_user's copy). */
    uint64_t off_ist = (uint64_t)frame - ist_stack_bottom(IST_NMI);
    if (nested && off_ist >= IST_STACK_SIZE && !(frame->cs & 3)) {
        expect(false, "an NMI from kernel mode (at %lx) went to nmi_from_user: the user-mode "
               "test is the wrong way round", frame->rip);
        scenario_complete(SCENARIO_FAIL);
    }
    if (in_pass && nested) {
        if (cpu->latch_state) /* the running pass is an NMI from user mode's */
            expect(false, "an NMI nested in one from user mode ran the handler chain inside its "
                   "pass: it must go to the latch");
        else
            expect(false, "an NMI ran the handler chain inside another's pass: a nested NMI was "
                   "taken for a first one (rule (b): NMI executing)");
        scenario_complete(SCENARIO_FAIL);
    }
    in_pass = true;
    return first_nmi_inside_entry(frame);
}

/* nmi=ret lets no NMI into a running pass at all (registered first, under nmi=ret only: the
 * chaos that nmi=naive-raw must show silently depends on the other handlers' stack frames). */
static bool ret_pass_begins(struct trap_frame *frame)
{
    if (in_pass) {
        expect(false, "an NMI ran the handler chain inside another's pass (at %lx): an "
               "exception's iretq let it in", frame->rip);
        scenario_complete(SCENARIO_FAIL);
    }
    return false;
}

static bool pass_ends(struct trap_frame *frame)
{
    in_pass = false;
    return false;
}

/* nmi_provoke_start(), or a skip when this machine cannot send itself NMIs. */
bool scenario_nmi_start(void (*action)(uint64_t pass), bool external)
{
    static bool watching_entry, watching_end;
    if (!watching_entry && nmi_current_strategy() == NMI_RET)
        register_nmi_handler("ret-pass-begins", ret_pass_begins);
    if (!watching_entry)
        watching_entry = register_nmi_handler("pass-begins", pass_begins);
    sent_inside = 0;
    baseline = *nmi_this_cpu();
    if (nmi_provoke_start(action, external)) {
        if (!watching_end)
            watching_end = register_nmi_handler("pass-ends", pass_ends);
        return true;
    }
    scenario_skip_reason("no local APIC: cannot send NMIs");
    return false;
}

uint64_t delta_nested(void) { return nmi_this_cpu()->nested - baseline.nested; }
uint64_t delta_extra(void)
{
    return nmi_extra_passes(nmi_this_cpu()) - nmi_extra_passes(&baseline);
}

/* Waits until the test runner has its breakpoint in place (it writes scenario_debugger_go: the
 * number of NMIs it will place). 0 when it never came. */
uint64_t wait_for_debugger(const char *plan)
{
    printk("# debugger: %s\n", plan);
    for (uint64_t i = 0; i < SPIN_LIMIT && !scenario_debugger_go; i++)
        cpu_relax();
    uint64_t episodes = scenario_debugger_go;
    scenario_debugger_go = 0;
    expect(episodes, "no debugger set scenario_debugger_go: this scenario needs tests/run.py");
    return episodes;
}

const char *rule_name(uint64_t rule)
{
    static const char *const names[] = {"none", "(a) the repeat window", "(b) NMI executing", "(c) the exit window",
                                        "the latch"};
    return rule < sizeof names / sizeof names[0] ? names[rule] : "?";
}

/* Under nmi=ret nothing nests: the pending NMI is a first NMI after the first one's own iretq. */
static bool expect_nothing_nested(void)
{
    if (nmi_current_strategy() != NMI_RET)
        return false;
    expect(delta_nested() == 0 && delta_extra() == 0, "nmi=ret: %lu nested NMIs and %lu extra "
           "passes, not 0 and 0", delta_nested(), delta_extra());
    return true;
}

void expect_one_nested_nmi(void)
{
    expect(self_claimed == 2 && self_sent == 2, "%lu of %lu self-NMIs handled", self_claimed, self_sent);
    if (expect_nothing_nested())
        return;
    expect(delta_nested() == 1, "%lu nested NMIs detected, not 1", delta_nested());
    expect(delta_extra() == 1, "%lu extra handler passes, not 1", delta_extra());
}

bool nested_detected_as(uint64_t rule)
{
    if (expect_nothing_nested())
        return true;
    if (nmi_current_strategy() == NMI_LATCH)
        rule = NESTED_LATCHED;
    return expect(nmi_this_cpu()->nested_rule == rule, "the nested NMI was recognised by rule %s, not %s",
                  rule_name(nmi_this_cpu()->nested_rule), rule_name(rule));
}

static enum scenario_result nested_by_exception(void (*action)(uint64_t), const char *what)
{
    if (!scenario_nmi_start(action, false))
        return SCENARIO_SKIP;
    send_self_nmi();
    spin_until(&self_claimed, 2);
    nmi_provoke_stop();
    expect_one_nested_nmi();
    expect(provoke_passes == 2, "the handler ran %lu times, not 2", provoke_passes);
    expect(!strcmp(what, "fault") ? provoke_faults == 1 : int3_hits == 1, "the %s inside the NMI did not happen once", what);
    nested_detected_as(NESTED_EXECUTING);
    return SCENARIO_PASS;
}

static enum scenario_result nmi_pf_nested(void) { return nested_by_exception(fault_with_nmi_pending, "fault"); }
static enum scenario_result nmi_int3_nested(void) { return nested_by_exception(int3_with_nmi_pending, "int3"); }

/* nmi-gp-nested: the same with a #GP, from a read of a non-canonical address (the unwinder's
 * copy_from_kernel_nofault meets one when a program left such an RBP): fixed up through the
 * exception table and returned from like the page fault. */
static void gp_with_nmi_pending(uint64_t pass)
{
    if (pass == 1) {
        send_self_nmi();
        nmi_provoke_fault(0x8000000000000000UL);
    }
}

static enum scenario_result nmi_gp_nested(void)
{
    return nested_by_exception(gp_with_nmi_pending, "fault");
}

/* The window scenarios belong to the nested strategy. */
static bool nested_strategy_only(void)
{
    if (nmi_current_strategy() == NMI_NESTED)
        return true;
    scenario_skip_reason("the repeat and exit windows exist only in nmi=nested");
    return false;
}

/* nmi-repeat-window: a nested NMI (via a fault) asks for another pass. The runner stops the CPU
 * at the final iretq, steps over it (now at repeat_nmi, NMIs unblocked) and injects an NMI. */
static enum scenario_result nmi_repeat_window(void)
{
    if (!nested_strategy_only() || !scenario_nmi_start(fault_with_nmi_pending, true))
        return SCENARIO_SKIP;
    wait_for_debugger("break at nmi_exit_iretq, step once, inject an NMI");
    send_self_nmi();
    spin_until(&provoke_passes, 2);
    nmi_provoke_stop();
    expect(delta_nested() == 2, "%lu nested NMIs detected, not 2", delta_nested());
    expect(delta_extra() == 1, "%lu extra handler passes, not 1 (the repeat covers both nested NMIs)", delta_extra());
    nested_detected_as(NESTED_IN_REPEAT_WINDOW);
    expect(nmi_this_cpu()->nested_rip == (uint64_t)repeat_nmi, "the NMI landed at %lx, not at repeat_nmi %lx",
           nmi_this_cpu()->nested_rip, (uint64_t)repeat_nmi);
    printk("# nested NMI landed at %016lx (repeat_nmi %016lx)\n", nmi_this_cpu()->nested_rip, (uint64_t)repeat_nmi);
    expect(self_claimed == self_sent, "%lu of %lu self-NMIs handled", self_claimed, self_sent);
    expect(nmi_this_cpu()->unknown == baseline.unknown, "unknown NMIs reported");
    return SCENARIO_PASS;
}

/* nmi-iret-window: the handler faults once (so NMIs are unblocked); the runner stops the CPU at
 * the final iretq, after "NMI executing" was cleared, and injects an NMI there. */
static void fault_once(uint64_t pass)
{
    if (pass == 1)
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
}

static enum scenario_result nmi_iret_window(void)
{
    if (!nested_strategy_only() || !scenario_nmi_start(fault_once, true))
        return SCENARIO_SKIP;
    wait_for_debugger("break at nmi_exit_iretq, inject an NMI");
    send_self_nmi();
    spin_until(&provoke_passes, 2);
    nmi_provoke_stop();
    uint64_t iret_frame = ist_stack_top(IST_NMI) - sizeof(struct nmi_stack);
    expect(delta_nested() == 1, "%lu nested NMIs detected, not 1", delta_nested());
    expect(delta_extra() == 1, "%lu extra handler passes, not 1", delta_extra());
    nested_detected_as(NESTED_IRET_WINDOW);
    expect(nmi_this_cpu()->nested_rip == (uint64_t)nmi_exit_iretq, "the NMI landed at %lx, not at the final iretq %lx",
           nmi_this_cpu()->nested_rip, (uint64_t)nmi_exit_iretq);
    expect(nmi_this_cpu()->nested_rsp == iret_frame, "the interrupted RSP %lx is not the iret frame %lx", nmi_this_cpu()->nested_rsp,
           iret_frame);
    printk("# nested NMI landed at RIP %016lx RSP %016lx (final iretq, iret frame)\n", nmi_this_cpu()->nested_rip,
           nmi_this_cpu()->nested_rsp);
    expect(self_claimed == self_sent && external_claimed == 1, "lost an NMI");
    return SCENARIO_PASS;
}

/* nmi-naive-late (nmi=naive): the handler faults once (so NMIs are unblocked) and returns; the
 * runner stops the CPU where nmi_naive_handle() has returned, the depth back at 0, and injects an
 * NMI there. Its frame overwrites the running NMI's, and its depth is 0 like the outer's: the
 * check on arrival must report it (the depth-indexed copies cannot see it). Never returns. */
static enum scenario_result nmi_naive_late(void)
{
    if (nmi_current_strategy() != NMI_NAIVE) {
        scenario_skip_reason("the naive strategy's overwrite check is what this scenario tests");
        return SCENARIO_SKIP;
    }
    if (!scenario_nmi_start(fault_once, true))
        return SCENARIO_SKIP;
    wait_for_debugger("break at nmi_entry_naive.returned, inject an NMI");
    send_self_nmi();
    spin_until(&provoke_passes, 2);
    nmi_provoke_stop();
    expect(false, "the nested NMI after the depth went back to 0 was not reported");
    return SCENARIO_FAIL;
}

/* ---- The lab 4 grade: a nested NMI on every instruction of both windows ---- */

/* In the first pass of every episode (two passes each): a self-NMI left pending, then a fault. */
static void fault_with_nmi_pending_each_episode(uint64_t pass)
{
    if (pass % 2 == 1) {
        send_self_nmi();
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
    }
}

/* nmi-repeat-window-all: in each episode a nested NMI asks for a repeat; the runner stops the
 * CPU at the final iretq, steps 1, 2, ... instructions into the repeat window and injects an
 * NMI there. Each must be taken by rule (a) and merged into the repeat pass. */
static enum scenario_result nmi_repeat_window_all(void)
{
    if (!nested_strategy_only() || !scenario_nmi_start(fault_with_nmi_pending_each_episode, true))
        return SCENARIO_SKIP;
    uint64_t episodes = wait_for_debugger("break at nmi_exit_iretq before repeat_nmi, step into the repeat window, "
                                          "inject an NMI; once for every instruction of the window");
    for (uint64_t i = 0; i < episodes && !scenario_failed(); i++) {
        uint64_t nested = delta_nested(), extra = delta_extra();
        send_self_nmi();
        if (!expect(spin_until(&provoke_passes, 2 * (i + 1)), "episode %lu: the handler did not run twice", i))
            break;
        uint64_t at = nmi_this_cpu()->nested_rip - (uint64_t)repeat_nmi;
        printk("# repeat window: an NMI at repeat_nmi+0x%lx was taken by rule %s\n", at, rule_name(nmi_this_cpu()->nested_rule));
        expect(nmi_this_cpu()->nested_rip - (uint64_t)repeat_nmi < (uint64_t)(end_repeat_nmi - repeat_nmi),
               "episode %lu: the NMI landed at %lx, outside the repeat window", i, nmi_this_cpu()->nested_rip);
        expect(nmi_this_cpu()->nested_rule == NESTED_IN_REPEAT_WINDOW, "an NMI at repeat_nmi+0x%lx was taken by rule %s, "
               "not by (a): in the repeat window rule (a) must come first", at, rule_name(nmi_this_cpu()->nested_rule));
        expect(delta_nested() - nested == 2 && delta_extra() - extra == 1, "episode %lu: %lu nested NMIs and %lu extra "
               "passes, not 2 and 1", i, delta_nested() - nested, delta_extra() - extra);
    }
    nmi_provoke_stop();
    expect(self_claimed == self_sent, "%lu of %lu self-NMIs handled", self_claimed, self_sent);
    return SCENARIO_PASS;
}

/* In the first pass of every episode: one fault, so that NMIs are unblocked for the rest of it. */
static void fault_each_episode(uint64_t pass)
{
    if (pass % 2 == 1)
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
}

/* nmi-exit-window-all: the runner stops the CPU on each instruction of the exit window (std,
 * the clearing of "NMI executing", the final iretq), with the arithmetic flags both ways (rule
 * (c) must test DF and nothing else), and injects an NMI. Before the clearing it is rule (b);
 * at the iretq, rule (c). */
static enum scenario_result nmi_exit_window_all(void)
{
    if (!nested_strategy_only() || !scenario_nmi_start(fault_each_episode, true))
        return SCENARIO_SKIP;
    uint64_t episodes = wait_for_debugger("break on each instruction of the exit window, PF set and clear, "
                                          "inject an NMI");
    for (uint64_t i = 0; i < episodes && !scenario_failed(); i++) {
        uint64_t nested = delta_nested();
        send_self_nmi();
        if (!expect(spin_until(&provoke_passes, 2 * (i + 1)), "episode %lu: the handler did not run twice", i))
            break;
        uint64_t rule = nmi_this_cpu()->nested_rip == (uint64_t)nmi_exit_iretq ? NESTED_IRET_WINDOW : NESTED_EXECUTING;
        char where[40];
        uint64_t before = (uint64_t)nmi_exit_iretq - nmi_this_cpu()->nested_rip;
        format(where, sizeof where, before ? "nmi_exit_iretq-0x%lx" : "nmi_exit_iretq", before);
        printk("# exit window: an NMI at %s was taken by rule %s\n", where, rule_name(nmi_this_cpu()->nested_rule));
        expect(nmi_this_cpu()->nested_rule == rule, "an NMI at %s was taken by rule %s, not %s", where,
               rule_name(nmi_this_cpu()->nested_rule), rule_name(rule));
        expect(delta_nested() - nested == 1, "episode %lu: %lu nested NMIs, not 1", i, delta_nested() - nested);
    }
    nmi_provoke_stop();
    expect(self_claimed == self_sent && external_claimed == episodes, "%lu of %lu self-NMIs and %lu of %lu injected "
           "NMIs handled", self_claimed, self_sent, external_claimed, episodes);
    return SCENARIO_PASS;
}

/* nmi-first-on-nmi-stack: code that runs with its RSP inside the NMI stack (as user space can
 * arrange with SYSCALL: CVE-2015-3291) and DF clear is interrupted by a first NMI. Rule (c) must
 * not take it for a nested one, or it is lost. The runner stops the CPU in the loop below and
 * injects the NMI there, with PF set and then clear. The loop ends when the NMI is handled, or
 * when it was counted as nested instead (and lost). */
static void spin_on_nmi_stack(uint64_t episode)
{
    uint64_t stack = ist_stack_bottom(IST_NMI) + 2048; /* far below anything the NMI path uses */
    volatile uint64_t *nested = &nmi_this_cpu()->nested;
    __asm__ volatile("mov %%rsp, %%rbx\n\t"
                     "mov %[stack], %%rsp\n\t"
                     "cld\n"
                     ".globl nmi_stack_spin\n"
                     "nmi_stack_spin:\n\t"
                     "cmp %[episode], %[claimed]\n\t"
                     "ja 1f\n\t"
                     "cmp %[nested_before], %[nested]\n\t"
                     "je nmi_stack_spin\n"
                     "1:\n\t"
                     "mov %%rbx, %%rsp"
                     :
                     : [stack] "r"(stack), [episode] "r"(episode), [claimed] "m"(external_claimed),
                       [nested_before] "r"(*nested), [nested] "m"(*nested)
                     : "rbx", "memory", "cc");
}

static enum scenario_result nmi_first_on_nmi_stack(void)
{
    if (!scenario_nmi_start(NULL, true))
        return SCENARIO_SKIP;
    uint64_t episodes = wait_for_debugger("break at nmi_stack_spin, PF set and clear, inject an NMI");
    for (uint64_t i = 0; i < episodes; i++) {
        spin_on_nmi_stack(i);
        if (!expect(external_claimed > i, "a first NMI at nmi_stack_spin (RSP in the NMI stack, DF "
                    "clear) was taken by rule %s for a nested one, and lost",
                    rule_name(nmi_this_cpu()->nested_rule)))
            return SCENARIO_FAIL;
        printk("# an NMI that interrupted code on the NMI stack (DF clear) was handled as a first NMI\n");
    }
    nmi_provoke_stop();
    expect(external_claimed == episodes && delta_nested() == 0, "%lu of %lu NMIs handled, %lu taken as nested",
           external_claimed, episodes, delta_nested());
    return SCENARIO_PASS;
}

/* nmi-cr2: the runner stops the CPU on the first instruction of the page-fault entry and injects
 * an NMI there; the NMI handler faults itself, at another address. */
void fault_elsewhere(uint64_t pass)
{
    if (pass == 1)
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
}

#define CR2_ADDRESS (UNMAPPED_ADDRESS + 0x6b9)
static enum scenario_result nmi_cr2(void)
{
    if (!scenario_nmi_start(fault_elsewhere, true))
        return SCENARIO_SKIP;
    wait_for_debugger("break at the page fault's entry stub, inject an NMI");
    uint64_t value; /* at an address no page boundary or rounding gives back: CR2 exactly */
    int result = copy_from_kernel_nofault(&value, (const void *)CR2_ADDRESS, sizeof value);
    spin_until(&provoke_passes, 1);
    nmi_provoke_stop();
    expect(result == -1, "the read of an unmapped address did not fail");
    expect(provoke_passes == 1 && provoke_faults == 1, "the NMI did not arrive and fault once (passes %lu, faults %lu)", provoke_passes, provoke_faults);
    expect(nmi_this_cpu()->interrupted_rip == page_fault_entry(),
           "the NMI landed at %lx, not at the page-fault entry %lx", nmi_this_cpu()->interrupted_rip,
           page_fault_entry());
    expect(page_fault_last_address == CR2_ADDRESS, "the page-fault handler saw CR2 %lx, not its own %lx",
           page_fault_last_address, CR2_ADDRESS);
    printk("# NMI landed at %016lx (page-fault entry); the #PF handler saw CR2 %016lx\n", nmi_this_cpu()->interrupted_rip,
           page_fault_last_address);
    return SCENARIO_PASS;
}

/* NMIs taken so far by every CPU but this one. */
static uint64_t other_cpus_entries(void)
{
    uint64_t entries = 0;
    for (int i = 0; i < cpu_count; i++)
        entries += i == this_cpu()->index ? 0 : cpus[i].nmi->entries;
    return entries;
}

/* nmi-external: NMIs from outside the CPU (QMP inject-nmi arrives on LINT1), each one NMI on
 * the boot CPU alone however many CPUs there are. */
static enum scenario_result nmi_external(void)
{
    uint64_t others_before = other_cpus_entries();
    if (!scenario_nmi_start(NULL, true))
        return SCENARIO_SKIP;
    printk("# external: waiting for 5 NMIs from outside\n");
    bool arrived = spin_until(&external_claimed, 5);
    nmi_provoke_stop();
    expect(arrived, "only %lu external NMIs arrived", external_claimed);
    expect(external_claimed == 5, "%lu external NMIs counted, not 5", external_claimed);
    expect(nmi_this_cpu()->entries - baseline.entries == 5, "%lu NMI entries, not 5", nmi_this_cpu()->entries - baseline.entries);
    expect(nmi_this_cpu()->unknown == baseline.unknown, "unknown NMIs reported");
    expect(other_cpus_entries() == others_before, "the other CPUs took %lu NMIs",
           other_cpus_entries() - others_before);
    return SCENARIO_PASS;
}

/* nmi-storm: many self-NMIs, some sent from inside the handler, every pass faulting and hitting
 * int3, while the runner injects NMIs from outside. */
#define STORM_SELF_NMIS 3000
void storm_pass(uint64_t pass)
{
    nmi_provoke_fault(NMI_FAULT_ADDRESS);
    nmi_provoke_int3();
    if (pass % 3 == 0) { /* nest: pending now, let in by the next fault's iretq */
        sent_inside++;
        send_self_nmi();
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
    }
}

static enum scenario_result nmi_storm(void)
{
    if (!scenario_nmi_start(storm_pass, true))
        return SCENARIO_SKIP;
    printk("# storm: start\n");
    for (int i = 0; i < STORM_SELF_NMIS || (external_claimed < 10 && i < 400 * STORM_SELF_NMIS); i++) {
        send_self_nmi();
        spin_until(&self_claimed, self_sent);
    }
    printk("# storm: end\n");
    nmi_provoke_stop();
    expect(self_claimed == self_sent, "%lu of %lu self-NMIs handled", self_claimed, self_sent);
    expect(int3_hits == provoke_passes, "%lu int3 hits in %lu passes", int3_hits, provoke_passes);
    expect(provoke_faults == provoke_passes + sent_inside, "%lu faults in %lu passes", provoke_faults, provoke_passes);
    expect(provoke_passes == nmi_this_cpu()->passes - baseline.passes, "handler passes do not match the NMI core's count");
    if (!expect_nothing_nested()) {
        expect(delta_nested() >= sent_inside, "%lu nested NMIs detected, fewer than the %lu "
               "sent from inside", delta_nested(), sent_inside);
        expect(delta_extra() <= delta_nested() && delta_extra() >= 1, "%lu extra passes for %lu "
               "nested NMIs", delta_extra(), delta_nested());
    }
    expect(external_claimed >= 10, "only %lu NMIs from outside arrived", external_claimed);
    expect(nmi_this_cpu()->unknown == baseline.unknown, "unknown NMIs reported");
    return SCENARIO_PASS;
}

/* nmi-trace: the live trace of one nested episode (what `make pictures` draws). */
static enum scenario_result nmi_trace(void)
{
    if (!nested_strategy_only() || !scenario_nmi_start(fault_with_nmi_pending, false))
        return SCENARIO_SKIP;
    nmi_trace_arm(true);
    send_self_nmi();
    spin_until(&self_claimed, 2);
    nmi_provoke_stop();
    expect(nmi_trace_print(), "no nested episode was recorded");
    return SCENARIO_PASS;
}

const struct scenario nmi_scenarios[] = {
    {"nmi-pf-nested", nmi_pf_nested, true},
    {"nmi-int3-nested", nmi_int3_nested, true},
    {"nmi-gp-nested", nmi_gp_nested, false},
    {"nmi-repeat-window", nmi_repeat_window, false},
    {"nmi-iret-window", nmi_iret_window, false},
    {"nmi-cr2", nmi_cr2, false},
    {"nmi-naive-late", nmi_naive_late, false},
    {"nmi-repeat-window-all", nmi_repeat_window_all, false},
    {"nmi-exit-window-all", nmi_exit_window_all, false},
    {"nmi-first-on-nmi-stack", nmi_first_on_nmi_stack, false},
    {"nmi-external", nmi_external, false},
    {"nmi-storm", nmi_storm, false},
    {"nmi-trace", nmi_trace, false},
    {0},
};
