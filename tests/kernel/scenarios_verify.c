/* The scenarios `make verify` drives (tests/verify.py): episodes of one self-NMI whose handler
 * takes a page fault (nmi-verify-pf) or hits an int3 (nmi-verify-int3) in its first pass. That
 * exception's iretq ends NMI blocking; the runner then stops the CPU on one chosen instruction
 * boundary of the rest of the NMI path and injects an NMI from outside, one boundary per episode.
 * The runner itself checks that the interrupted code gets back every register (CR2 too: each
 * episode starts with a fault of its own, at another address than the handler's); the kernel
 * prints, per episode, what its NMI core counted, for the runner to compare.
 *
 * verify_episodes is written by the runner through the gdb stub while the CPU is stopped, and
 * may grow while the scenario runs (the first episode is the one the runner records). */
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>

#define WAIT_LIMIT 400000000UL

volatile uint64_t verify_episodes;
static volatile bool exception_due;
static void (*verify_exception)(void);

static void fault(void) { nmi_provoke_fault(NMI_FAULT_ADDRESS); }

/* Only the episode's first pass takes the exception: the passes an injected NMI causes do not. */
static void exception_in_first_pass(uint64_t pass)
{
    if (exception_due) {
        exception_due = false;
        verify_exception();
    }
}

static enum scenario_result verify(void (*exception)(void))
{
    verify_exception = exception;
    if (!scenario_nmi_start(exception_in_first_pass, true))
        return SCENARIO_SKIP;
    printk("# debugger: verify: episodes of one NMI with an exception in its handler; an NMI from outside at one "
           "boundary each\n");
    for (uint64_t i = 0; i < WAIT_LIMIT && !verify_episodes; i++)
        __asm__ volatile("pause");
    if (!expect(verify_episodes, "no debugger set verify_episodes: this scenario needs tests/verify.py"))
        return SCENARIO_FAIL;
    for (uint64_t episode = 0; episode < verify_episodes; episode++) {
        uint64_t nested = delta_nested(), passes = provoke_passes, external = external_claimed;
        nmi_this_cpu()->nested_rule = NESTED_NONE;
        nmi_this_cpu()->nested_rip = 0;
        nmi_provoke_fault(UNMAPPED_ADDRESS); /* CR2 now differs from the handler's fault address */
        exception_due = true;
        send_self_nmi();
        if (!expect(spin_until(&self_claimed, self_sent), "episode %lu: the NMI was not handled", episode))
            break;
        printk("# verify %lu: passes %lu nested %lu external %lu rule %s at %lx\n", episode, provoke_passes - passes,
               delta_nested() - nested, external_claimed - external, rule_name(nmi_this_cpu()->nested_rule),
               nmi_this_cpu()->nested_rip);
    }
    nmi_provoke_stop();
    return SCENARIO_PASS;
}

static enum scenario_result nmi_verify_pf(void) { return verify(fault); }
static enum scenario_result nmi_verify_int3(void) { return verify(nmi_provoke_int3); }

const struct scenario verify_scenarios[] = {
    {"nmi-verify-pf", nmi_verify_pf, false},
    {"nmi-verify-int3", nmi_verify_int3, false},
    {0},
};
