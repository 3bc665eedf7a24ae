/* Helpers shared by the NMI scenarios (tests/kernel/scenarios_nmi.c) and the others that provoke
 * NMIs (stories, SMP, user mode, verify): the kernel's NMI-provoking toolkit
 * (kernel/nmi_provoke.h), plus the expectations the scenarios check afterwards. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <arch/x86_64/traps.h>
#include <kernel/nmi.h>
#include <kernel/nmi_provoke.h>

/* The page fault's entry stub: its gate points at nmi=ret's own under that strategy (nmi.c). */
extern const char trap_stub_ret_14[];
static inline uint64_t page_fault_entry(void)
{
    if (nmi_current_strategy() == NMI_RET)
        return (uint64_t)trap_stub_ret_14;
    return trap_entry_table[VECTOR_PAGE_FAULT];
}

#define UNMAPPED_ADDRESS 0x0000100000000000UL /* nothing maps it: a read faults */

extern volatile uint64_t sent_inside;

/* nmi_provoke_start(), or, with no local APIC, false and the scenario's skip reason set. */
bool scenario_nmi_start(void (*action)(uint64_t pass), bool external);
const char *rule_name(uint64_t rule); /* "(a) the repeat window", ...: NESTED_* in nmi_stack.h */
uint64_t delta_nested(void);          /* since scenario_nmi_start() */
uint64_t delta_extra(void);
bool nested_detected_as(uint64_t rule);
/* Expectations for one episode: 2 self-NMIs sent and handled, 1 nested NMI, 1 extra pass. */
void expect_one_nested_nmi(void); /* an expectation; NESTED_LATCHED under nmi=latch */
void storm_pass(uint64_t pass);      /* fault and int3 in every pass, a nested NMI in every third */
void fault_elsewhere(uint64_t pass); /* pass 1: a fault at NMI_FAULT_ADDRESS (CR2 changes) */
/* Waits until tests/run.py has attached through the gdb stub; returns how many NMIs it will place. */
uint64_t wait_for_debugger(const char *plan);
