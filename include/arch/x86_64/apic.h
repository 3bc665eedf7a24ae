/* The local APIC: this CPU's interrupt controller, used here to send NMIs to ourselves and to let
 * external NMIs in through LINT1. xAPIC (memory-mapped) or x2APIC (MSRs) when the CPU has it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

void apic_init(void);
bool apic_ready(void);
bool apic_is_x2apic(void);
uint32_t apic_id(void);
/* An NMI to this CPU through the ICR, addressed by APIC ID: the "self" shorthand cannot carry
 * NMI delivery mode. While an NMI handler runs, it stays pending until the next iret. */
void apic_send_self_nmi(void);
