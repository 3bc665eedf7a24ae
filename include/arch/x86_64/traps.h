/* Exceptions: the IDT vectors, and C handlers registered per vector. */
#pragma once
#include <stdbool.h>
#include <arch/x86_64/trap_frame.h>

enum {
    VECTOR_DEBUG = 1,
    VECTOR_NMI = 2,
    VECTOR_BREAKPOINT = 3,
    VECTOR_DOUBLE_FAULT = 8,
    VECTOR_SEGMENT_NOT_PRESENT = 11,
    VECTOR_STACK_FAULT = 12,
    VECTOR_GENERAL_PROTECTION = 13,
    VECTOR_PAGE_FAULT = 14,
    VECTOR_MACHINE_CHECK = 18,
    EXCEPTION_VECTORS = 32,
    VECTOR_TIMER = 32,      /* the local APIC timer: the scheduler tick */
    VECTOR_SPURIOUS = 0xff, /* the local APIC's spurious-interrupt vector */
    VECTORS = 256,
};

/* A handler returns true when it dealt with the exception or interrupt; the entry then returns
 * with iretq. False (or no handler) means the kernel cannot go on: panic. */
typedef bool (*trap_handler)(struct trap_frame *frame);
void trap_register(unsigned vector, trap_handler handler);
/* The kernel's hook for an exception from user mode (not a #DF or #MC, the machine's trouble): it
 * kills the task and does not return. Without one, such an exception goes to the vector's
 * handler like a kernel one (and panics when nothing takes it). */
typedef __attribute__((noreturn)) void (*user_fault_hook)(const struct trap_frame *frame);
void trap_register_user_fault_hook(user_fault_hook hook);
const char *trap_name(unsigned vector);
void trap_dispatch(struct trap_frame *frame); /* called by trap_entry.asm */
/* NMIs that arrived through the IDT's first NMI gate, before nmi_init() replaced it. */
extern uint64_t early_nmis;

void idt_init(void);
void idt_load(void); /* the IDT that idt_init made, on another CPU */
/* handler: an entry of trap_entry.asm or nmi_entry.asm, with a clac in the CLAC_BYTES before it */
void idt_replace_gate(unsigned vector, uint64_t handler, unsigned ist); /* a live one, atomically */
#define CLAC_BYTES 3
extern const uint64_t trap_entry_table[VECTORS]; /* trap_entry.asm: the entry stub of each vector */
