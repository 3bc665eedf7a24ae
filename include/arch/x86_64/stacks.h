/* The kernel's stacks, each with an unmapped guard page below it. The IST stacks are the ones the
 * CPU switches to by itself for the exceptions that must not trust the current stack. */
#pragma once
#include <stdint.h>

enum ist_index { /* TSS interrupt stack table slots, 1-7 (0 in a gate means "no IST") */
    IST_NMI = 1,
    IST_DOUBLE_FAULT = 2,
    IST_MACHINE_CHECK = 3,
    IST_DEBUG = 4,
    IST_LAST = IST_DEBUG,
};

#define IST_STACK_SIZE (16 * 1024)

void stacks_init(void); /* unmaps the guard pages; points each CPU at its NMI state */
/* This CPU's IST stack; the _of forms for any CPU (cpus[n].nmi sits above the NMI stack's top) */
uint64_t ist_stack_top(enum ist_index index);
uint64_t ist_stack_bottom(enum ist_index index);
uint64_t ist_stack_top_of(int cpu, enum ist_index index);
/* The stack of task 1 to TASKS_MAX - 1 (task 0 has the boot stack). */
uint64_t task_stack_top(int task);
/* The name of the stack whose guard page holds address ("#DB IST"), or NULL. */
const char *stack_guard_owner(uint64_t address);
const char *stack_owner(uint64_t address); /* the same for the stack itself ("NMI IST"), or NULL */
