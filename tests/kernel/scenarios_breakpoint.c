/* nmi-breakpoint: what popfq; ret cannot do that iretq does (docs/nmi.md, "nmi=ret").
 *
 * An instruction breakpoint (DR0, R/W and LEN 0) is a fault: the #DB comes before the instruction
 * runs, and the handler goes back to that same instruction. Only RF (the resume flag) set in the
 * RFLAGS that iretq loads lets it run once without the breakpoint firing again. popfq cannot set
 * RF, so under nmi=ret, where a #DB that interrupted an NMI handler returns by popfq; ret, the
 * breakpoint fires again, at once, for ever. The kernel never sets an instruction breakpoint, so
 * it never meets this; a debugger or a tracer that put one on code an NMI handler runs would.
 *
 * The scenario sets one on a function the NMI handler calls, with a second NMI pending, and
 * records what each strategy does. Its own #DB handler resumes with RF as the kernel's does, and
 * after REFIRES_BEFORE_DISARM hits on one call it clears DR7 so that the run can go on. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/traps.h>
#include <kernel/nmi.h>
#include <kernel/nmi_provoke.h>
#include <kernel/printk.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>

#define DR7_LOCAL_0 (1UL << 0) /* DR0 on; R/W0 = 0 and LEN0 = 0: execute, one byte */
#define DR6_NO_STATUS 0xffff0ff0UL
#define RFLAGS_RESUME (1UL << 16)
#define REFIRES_BEFORE_DISARM 3

static volatile uint64_t target_calls, target_hits, most_hits_on_one_call, hits_this_call;
static volatile bool disarmed;

__attribute__((noinline)) void nmi_breakpoint_target(void);
__attribute__((noinline)) void nmi_breakpoint_target(void)
{
    hits_this_call = 0;
    target_calls++;
}

static void set_breakpoint(uint64_t address, uint64_t dr7)
{
    __asm__ volatile("mov %0, %%dr0" : : "r"(address));
    __asm__ volatile("mov %0, %%dr7" : : "r"(dr7));
}

static bool on_breakpoint(struct trap_frame *frame)
{
    if (frame->rip != (uint64_t)nmi_breakpoint_target)
        return false;
    target_hits++;
    if (++hits_this_call > most_hits_on_one_call)
        most_hits_on_one_call = hits_this_call;
    if (hits_this_call > REFIRES_BEFORE_DISARM) { /* the same call, again: RF did not come back */
        set_breakpoint(0, 0);
        disarmed = true;
    }
    __asm__ volatile("mov %0, %%dr6" : : "r"(DR6_NO_STATUS));
    frame->rflags |= RFLAGS_RESUME;
    return true;
}

/* The first pass leaves a self-NMI pending and calls the target; the second calls it again. */
static void call_target_with_nmi_pending(uint64_t pass)
{
    if (pass == 1)
        send_self_nmi();
    nmi_breakpoint_target();
}

static enum scenario_result nmi_breakpoint(void)
{
    if (!scenario_nmi_start(call_target_with_nmi_pending, false))
        return SCENARIO_SKIP;
    trap_register(VECTOR_DEBUG, on_breakpoint);
    set_breakpoint((uint64_t)nmi_breakpoint_target, DR7_LOCAL_0);
    send_self_nmi();
    spin_until(&self_claimed, 2);
    nmi_provoke_stop();
    set_breakpoint(0, 0);
    trap_register(VECTOR_DEBUG, NULL);
    const char *strategy = nmi_strategy_name(nmi_current_strategy());
    printk("# breakpoint under nmi=%s: %lu calls, %lu hits, at most %lu on one call; %lu nested "
           "NMIs%s\n", strategy, target_calls, target_hits, most_hits_on_one_call, delta_nested(),
           disarmed ? "; it fired again on its own return (no RF): disarmed" : "");
    expect(self_claimed == 2 && target_calls == 2, "%lu of 2 NMIs handled, %lu calls of 2",
           self_claimed, target_calls);
    if (nmi_current_strategy() == NMI_RET) /* what popfq; ret cannot do, recorded */
        expect(disarmed && delta_nested() == 0, "nmi=ret: the breakpoint did not fire again "
               "(disarmed %d), or %lu NMIs nested", disarmed, delta_nested());
    else /* iretq sets RF: one hit per call; and it ends NMI blocking: the NMI nests */
        expect(!disarmed && target_hits == 2 && delta_nested() == 1, "nmi=%s: %lu hits, "
               "%lu nested NMIs, not 2 and 1", strategy, target_hits, delta_nested());
    return SCENARIO_PASS;
}

const struct scenario breakpoint_scenarios[] = {
    {"nmi-breakpoint", nmi_breakpoint, false},
    {0},
};
