/* Reading the ACPI MADT (ACPI 6.5, 5.2.12): pure C with no hardware access, so the host's unit
 * tests can feed it the tables a real board might have (tests/unit/test_madt.c). */
#pragma once
#include <stdint.h>

#define MADT_CPUS_MAX 8 /* CPUS_MAX (smp.h), kept here so the host build needs no smp.h */

/* What the MADT lists: the processors to start, each APIC ID once, at most MADT_CPUS_MAX kept
 * (cpus_found counts them all); the LINT pin wired to NMI; the local APIC's address; the I/O
 * APIC that serves the PIT's IRQ 0, and the pin (global system interrupt) it arrives on. */
struct apic_board {
    unsigned cpus_found;
    uint32_t cpu_apic_ids[MADT_CPUS_MAX];
    unsigned nmi_pin;
    uint64_t apic_address;
    uint64_t ioapic_address; /* 0: none serves it */
    uint32_t ioapic_gsi_base;
    uint32_t pit_gsi;        /* IRQ 0's pin unless an override moves it (on most PCs, to 2) */
    uint16_t pit_gsi_flags;  /* the override's polarity and trigger mode */
};

/* The table whose header starts at madt, length bytes long, into board. */
void madt_parse(const uint8_t *madt, uint32_t length, struct apic_board *board);
