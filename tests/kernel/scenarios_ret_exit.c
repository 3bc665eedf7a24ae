/* nmi-ret-exit-all (lab 8): nmi=ret's way back from an exception into the NMI handler it
 * interrupted, seen from that handler. In each episode the handler faults (ret_exit_fault.asm)
 * with every register set to a value of its own, and the exception returns to the fixup.
 *
 * First one episode with a self-NMI pending, no debugger needed. Then the runner's episodes: it
 * stops the CPU at trap_return_ret_strategy when episode k's fault returns, steps k
 * instructions (k = 0, 1, ... until the CPU is back in the handler, at ret_exit_fixup) and
 * injects an NMI there. NMIs are blocked all along that way, so in every episode the NMI must
 * stay pending and arrive after the handler's own iretq, never inside the handler; and the
 * handler must find its registers, RFLAGS, RSP and the words above RSP as they were. Each
 * failure says so at once. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/timer.h>
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>

#define RECORD_WORDS 20
#define EPISODES_MAX 200 /* instructions on the way back, at most (as the runner has it) */
#define RFLAGS_RF (1UL << 16) /* the resume flag: set in a fault's frame, never by popfq */

extern uint64_t ret_exit_before[RECORD_WORDS], ret_exit_after[RECORD_WORDS]; /* the .asm */
void ret_exit_fault(void);

/* Written by the runner through the gdb stub: where it injected this episode's NMI, and (once the
 * CPU is back at ret_exit_fixup after its steps) how many instructions the way back has. */
volatile uint64_t ret_exit_placed_at, ret_exit_path_length;
volatile uint64_t ret_exit_cue; /* the runner's episode (k + 1) while its fault returns; else 0 */

static volatile uint64_t fault_next;  /* the cue for the next pass's fault; 0: no fault */
static volatile bool in_pass;         /* between the first and the last handler of the chain */
static volatile uint64_t checked;     /* episodes whose records matched */

static const char *const record_names[RECORD_WORDS] = {
    "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8", "R9", "R10", "R11", "R12", "R13",
    "R14", "R15", "RSP", "RFLAGS", "the word at RSP", "the word at RSP+8", "the word at RSP+16",
};

/* "function+0xN" for an address in the kernel. */
static void name_address(char *out, unsigned size, uint64_t address)
{
    uint64_t offset;
    const char *name = symbol_lookup(address, &offset);
    if (name && offset)
        format(out, size, "%s+0x%lx", name, offset);
    else if (name)
        format(out, size, "%s", name);
    else
        format(out, size, "%lx", address);
}

/* Where the pending NMI was placed: the runner's instruction, or the self-NMI of the first
 * episode. */
static void name_placement(char *out, unsigned size)
{
    char where[60];
    if (!ret_exit_placed_at) {
        format(out, size, "a self-NMI sent before the fault");
        return;
    }
    name_address(where, sizeof where, ret_exit_placed_at);
    format(out, size, "the NMI placed at %s", where);
}

/* First in the chain: an NMI whose pass begins inside another's was let in before the handler's
 * own iretq. */
static bool arrival(struct trap_frame *frame)
{
    if (in_pass) {
        char placed[90], landed[60];
        name_placement(placed, sizeof placed);
        name_address(landed, sizeof landed, frame->rip);
        expect(false, "%s came in at %s, inside the NMI handler: the way back unblocked NMIs "
               "(an iretq?)", placed, landed);
        scenario_complete(SCENARIO_FAIL);
    }
    in_pass = true;
    return false;
}

static bool pass_over(struct trap_frame *frame)
{
    in_pass = false;
    return false;
}

static void fault_in_pass(uint64_t pass)
{
    uint64_t cue = fault_next;
    if (!cue)
        return;
    fault_next = 0;
    if (cue > 1)
        ret_exit_cue = cue - 1;
    else
        send_self_nmi(); /* pending while this pass faults */
    ret_exit_fault();
    ret_exit_cue = 0;
}

/* The records of the last fault, compared word by word; the first difference said in the lab's
 * terms. */
static bool records_match(void)
{
    const uint64_t *before = ret_exit_before, *after = ret_exit_after;
    for (int i = 0; i < RECORD_WORDS; i++) {
        if (after[i] == before[i])
            continue;
        char placed[90];
        name_placement(placed, sizeof placed);
        if (i == 15)
            return expect(false, "back in the NMI handler RSP is %lx, not %lx (%ld bytes off; %s)",
                          after[i], before[i], (long)(after[i] - before[i]), placed);
        if (i > 16)
            return expect(false, "%s was %lx, now %lx: the exit wrote over the NMI handler's "
                          "stack (only the 3 words below RSP are free) (%s)", record_names[i],
                          before[i], after[i], placed);
        if (i == 0 && (after[i] & ~RFLAGS_RF) == before[16] && after[16] != before[16])
            return expect(false, "RAX came back holding the interrupted RFLAGS (%lx): pop rax "
                          "and popfq in the wrong order (%s)", after[i], placed);
        return expect(false, "back in the NMI handler %s is %lx, not %lx (%s)", record_names[i],
                      after[i], before[i], placed);
    }
    checked++;
    return true;
}

/* One episode: a pass that faults (cue 1: the self-NMI one; k + 2: the runner's episode k), then
 * the pending NMI, until it has been handled (or the runner says the way back is over). */
static bool episode(uint64_t cue, bool self_pending)
{
    uint64_t external = external_claimed, self = self_claimed;
    ret_exit_placed_at = 0;
    fault_next = cue;
    send_self_nmi();
    uint64_t deadline = rdtsc() + 3000 * tsc_khz;
    while (self_claimed < self + 1 + self_pending ||
           (!self_pending && external_claimed == external && !ret_exit_path_length)) {
        if (rdtsc() > deadline) {
            char placed[90];
            name_placement(placed, sizeof placed);
            return expect(false, "%s never arrived (3 s): NMIs stayed blocked after the NMI "
                          "handler's iretq, or it was lost", placed);
        }
        cpu_relax();
    }
    return records_match();
}

static enum scenario_result nmi_ret_exit_all(void)
{
    if (nmi_current_strategy() != NMI_RET) {
        scenario_skip_reason("the iret-less exit is nmi=ret's");
        return SCENARIO_SKIP;
    }
    register_nmi_handler("ret-exit-arrival", arrival); /* first: before scenario_nmi_start's */
    if (!scenario_nmi_start(fault_in_pass, true))
        return SCENARIO_SKIP;
    register_nmi_handler("ret-exit-pass-over", pass_over);
    if (!episode(1, true)) {
        nmi_provoke_stop();
        return SCENARIO_FAIL;
    }
    wait_for_debugger("break at trap_return_ret_strategy on each fault's way back, step 0, 1, ... "
                      "instructions, inject an NMI");
    for (uint64_t k = 0; k < EPISODES_MAX && !ret_exit_path_length; k++)
        if (!episode(k + 2, false))
            break;
    nmi_provoke_stop();
    if (scenario_failed())
        return SCENARIO_FAIL;
    expect(ret_exit_path_length > 0 && external_claimed == ret_exit_path_length,
           "%lu NMIs placed on the way back were handled, for %lu instructions", external_claimed,
           ret_exit_path_length);
    printk("# nmi-ret-exit-all: an NMI on each of the %lu instructions from "
           "trap_return_ret_strategy back into the NMI handler stayed pending until its iretq; %lu "
           "faults gave back every register, RFLAGS and RSP\n", ret_exit_path_length, checked);
    return SCENARIO_PASS;
}

const struct scenario ret_exit_scenarios[] = {
    {"nmi-ret-exit-all", nmi_ret_exit_all, false},
    {0},
};
