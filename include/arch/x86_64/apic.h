/* The local APIC: this CPU's interrupt controller, used here to send NMIs to ourselves and to let
 * external NMIs in through LINT1. xAPIC (memory-mapped) or x2APIC (MSRs) when the CPU has it. */
#pragma once
#include <arch/x86_64/madt.h>
#include <stdbool.h>
#include <stdint.h>

void apic_init(void);
bool apic_ready(void);
uint32_t apic_id(void);
/* An NMI to this CPU through the ICR, addressed by APIC ID: the "self" shorthand cannot carry
 * NMI delivery mode. While an NMI handler runs, it stays pending until the next iret. */
void apic_send_self_nmi(void);
void apic_send_nmi(uint32_t destination); /* to the CPU with that APIC ID */
/* An interprocessor interrupt: command is the ICR's low word (delivery mode, level, vector). */
void apic_send_ipi(uint32_t destination, uint32_t command);
#define APIC_IPI_INIT 0x4500    /* INIT, level assert */
#define APIC_IPI_STARTUP 0x4600 /* start-up (SIPI), level assert; | the page number of the code */
void apic_init_cpu(void); /* the local APIC of a CPU started after apic_init */

void apic_eoi(void);
/* The APIC timer counts down at the bus clock / 16. vector 0 leaves it masked (calibration). */
void apic_timer_start(uint32_t initial_count, unsigned vector, bool periodic);
uint32_t apic_timer_current(void);
/* An LVT entry in NMI delivery mode, unmasked or masked: LINT0 (the watchdog's PIT on one CPU) or
 * the performance counters' overflow. */
enum apic_nmi_entry { APIC_NMI_LINT0 = 0x350, APIC_NMI_PERF_COUNTER = 0x340 }; /* xAPIC offsets */
void apic_lvt_nmi(enum apic_nmi_entry entry, bool enabled);
/* The PIT's I/O APIC pin in NMI delivery mode to this CPU, or masked; false if there is none
 * (ioapic.c). */
bool ioapic_route_pit_nmi(bool enabled);
extern struct apic_board apic_board; /* what the ACPI MADT lists (madt.h) */
