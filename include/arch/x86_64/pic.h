/* The legacy 8259 interrupt controllers. nmilab takes its interrupts from the local APIC, so the
 * PICs are moved out of the exception vectors and masked; the watchdog may later unmask IRQ 0
 * (the PIT) and route it to LINT0 as an NMI. */
#pragma once
#include <stdbool.h>

#define PIC_VECTOR_BASE 0x30 /* IRQ n arrives on 0x30 + n, if it ever does */

void pic_init(void);
void pic_unmask_timer(void);
void pic_mask_timer(void);
/* In an NMI: was it the PIC's IRQ 0? Polls the PIC (which also acknowledges it) and sends EOI. */
bool pic_take_timer_interrupt(void);
