/* Helpers shared by the NMI scenarios (tests/kernel/scenarios_nmi.c) and the story scenarios
 * (tests/kernel/scenarios_stories.c): a scenario NMI handler that claims self-NMIs and runs a per-pass
 * action, and counters to check afterwards. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define UNMAPPED_ADDRESS 0x0000100000000000UL  /* nothing maps it: a read faults */
#define NMI_FAULT_ADDRESS 0x0000100000005000UL /* where NMI handlers fault, distinct from the above */

extern volatile uint64_t self_pending, self_sent, self_claimed;
extern volatile uint64_t scenario_passes, scenario_faults, int3_hits, external_claimed, sent_inside;
extern void (*pass_action)(uint64_t pass);

/* Registers the scenario handler (action runs in every pass; external: claim NMIs with no
 * self-NMI pending as external). False, with a skip reason set, when there is no APIC. */
bool nmi_test_start(void (*action)(uint64_t pass), bool external);
void nmi_test_stop(void); /* unregisters, prints the counters */
void send_self_nmi(void);
void nmi_test_fault(uint64_t address); /* a fixed-up page fault: its iretq ends NMI blocking */
void nmi_test_int3(void);              /* an int3 a hook claims: its iretq ends NMI blocking too */
const char *rule_name(uint64_t rule);  /* "(a) the repeat window", ...: NESTED_* in kernel/nmi.h */
bool spin_until(volatile uint64_t *value, uint64_t at_least);
uint64_t delta_nested(void); /* since nmi_test_start() */
uint64_t delta_extra(void);
bool nested_detected_as(uint64_t rule);
/* Expectations for one episode: 2 self-NMIs sent and handled, 1 nested NMI, 1 extra pass. */
void expect_one_nested_nmi(void); /* an expectation; NESTED_LATCHED under nmi=latch */
void fault_with_nmi_pending(uint64_t pass); /* pass 1: send a self-NMI, then fault */
void int3_with_nmi_pending(uint64_t pass);  /* pass 1: send a self-NMI, then hit an int3 hook */
void storm_pass(uint64_t pass);             /* fault and int3 in every pass, a nested NMI in every third */
void fault_elsewhere(uint64_t pass);        /* pass 1: a fault at NMI_FAULT_ADDRESS (CR2 changes) */
/* The stories' tasks (docs/stories.md; the shell's `cast`): two workers, a sleeper, and one whose
 * frame chain leads into unmapped memory, which show_state() must survive. */
void task_create_cast(void);
/* Waits until tests/run.py has attached through the gdb stub; returns how many NMIs it will place. */
uint64_t wait_for_debugger(const char *plan);
