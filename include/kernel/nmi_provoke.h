/* Provoking NMIs on purpose: the shell's `nmi`, `pf-in-nmi` and `int3-in-nmi` (and the demos and
 * scenarios built on them) send this CPU NMIs through its local APIC and run an action inside
 * every pass of the NMI handler, such as a page fault or an int3 with another NMI pending. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Where an NMI handler faults on purpose: nothing maps it, so a read takes a page fault. */
#define NMI_FAULT_ADDRESS 0x0000100000005000UL

/* Counters since nmi_provoke_start(). Self-NMIs are claimed in one go by each handler pass (like
 * a device handler that drains its queue): an NMI the CPU merged into one already pending is
 * still counted, so "every NMI sent was claimed" is an exact check. */
extern volatile uint64_t self_pending, self_sent, self_claimed;

/* Registers the handler that claims self-NMIs (and, if external, NMIs with no self-NMI pending)
 * and runs action in every pass. False when there is no local APIC to send NMIs with. */
bool nmi_provoke_start(void (*action)(uint64_t pass), bool external);
void nmi_provoke_stop(void); /* unregisters the handler, prints the counters */
void send_self_nmi(void);
/* Spins until *value reaches at_least with no NMI handler running; false after a long while. */
bool spin_until(volatile uint64_t *value, uint64_t at_least);
/* Pass actions: in pass 1, send a self-NMI (it stays pending: NMIs are blocked), then fault, or
 * hit an int3. That exception's iretq lets the pending NMI in, nested in the first. */
void fault_with_nmi_pending(uint64_t pass);
void int3_with_nmi_pending(uint64_t pass);
