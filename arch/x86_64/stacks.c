/* Stacks with guard pages. A stack that overflows writes into the page below it; with that page
 * unmapped, the first write faults at once instead of silently corrupting whatever lies there.
 * The fault itself cannot be delivered on the overflowed stack, so it becomes a double fault,
 * which runs on its own IST stack and reports the overflow (traps.c). */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/stacks.h>
#include <kernel/task.h>

struct guarded_stack {
    uint8_t guard[PAGE_SIZE];
    uint8_t stack[IST_STACK_SIZE];
} __attribute__((aligned(PAGE_SIZE)));

_Static_assert(TASK_STACK_SIZE == IST_STACK_SIZE, "task and IST stacks share one layout");
static struct guarded_stack ist_stacks[IST_LAST + 1]; /* slot 0 unused, to index by IST number */
static struct guarded_stack task_stacks[TASKS_MAX];   /* slot 0 unused: task 0 runs on the boot stack */
extern uint8_t boot_stack_guard[];                   /* boot/entry.asm */

static const char *const stack_names[IST_LAST + 1] = {
    [IST_NMI] = "NMI IST",
    [IST_DOUBLE_FAULT] = "#DF IST",
    [IST_MACHINE_CHECK] = "#MC IST",
    [IST_DEBUG] = "#DB IST",
};
static const char *const task_stack_names[TASKS_MAX] = {"", "task 1", "task 2", "task 3",
                                                        "task 4", "task 5", "task 6", "task 7"};
_Static_assert(TASKS_MAX == 8, "one name per task stack");

void stacks_init(void)
{
    paging_unmap_page((uint64_t)boot_stack_guard);
    for (int i = 1; i <= IST_LAST; i++)
        paging_unmap_page((uint64_t)ist_stacks[i].guard);
    for (int i = 1; i < TASKS_MAX; i++)
        paging_unmap_page((uint64_t)task_stacks[i].guard);
}

uint64_t task_stack_top(int task) { return (uint64_t)(task_stacks[task].stack + TASK_STACK_SIZE); }

uint64_t ist_stack_top(enum ist_index index) { return (uint64_t)(ist_stacks[index].stack + IST_STACK_SIZE); }
uint64_t ist_stack_bottom(enum ist_index index) { return (uint64_t)ist_stacks[index].stack; }

/* The name of the stack whose guard page (guard) or whose stack proper holds address, or NULL. */
static const char *find_stack(uint64_t address, bool guard)
{
    uint64_t size = guard ? PAGE_SIZE : IST_STACK_SIZE;
    if (guard && address - (uint64_t)boot_stack_guard < PAGE_SIZE)
        return "kernel";
    for (int i = 1; i <= IST_LAST; i++)
        if (address - (uint64_t)(guard ? ist_stacks[i].guard : ist_stacks[i].stack) < size)
            return stack_names[i];
    for (int i = 1; i < TASKS_MAX; i++)
        if (address - (uint64_t)(guard ? task_stacks[i].guard : task_stacks[i].stack) < size)
            return task_stack_names[i];
    return 0;
}

const char *stack_guard_owner(uint64_t address) { return find_stack(address, true); }
const char *stack_owner(uint64_t address) { return find_stack(address, false); }
