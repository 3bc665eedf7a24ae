/* Stacks with guard pages. A stack that overflows writes into the page below it; with that page
 * unmapped, the first write faults at once instead of silently corrupting whatever lies there.
 * The fault itself cannot be delivered on the overflowed stack, so it becomes a double fault,
 * which runs on its own IST stack and reports the overflow (traps.c). Each CPU has its own IST
 * stacks, its struct nmi_cpu_state right above the NMI stack top (docs/nmi.md, "Several CPUs"). */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <kernel/printk.h>
#include <arch/x86_64/nmi_stack.h>
#include <kernel/task.h>

struct guarded_stack {
    uint8_t guard[PAGE_SIZE];
    uint8_t stack[IST_STACK_SIZE];
} __attribute__((aligned(PAGE_SIZE)));

_Static_assert(TASK_STACK_SIZE == IST_STACK_SIZE, "task and IST stacks share one layout");
/* Slot 0 unused in both: IST stacks go by IST number, and task 0 runs on the boot stack. */
static struct guarded_stack ist_stacks[CPUS_MAX][IST_LAST + 1];
static struct guarded_stack task_stacks[TASKS_MAX];
extern uint8_t boot_stack_guard[];                 /* boot/entry.asm */

static const char *const stack_names[IST_LAST + 1] = {
    [IST_NMI] = "NMI IST",
    [IST_DOUBLE_FAULT] = "#DF IST",
    [IST_MACHINE_CHECK] = "#MC IST",
    [IST_DEBUG] = "#DB IST",
};

void stacks_init(void)
{
    paging_unmap_page((uint64_t)boot_stack_guard);
    for (int cpu = 0; cpu < CPUS_MAX; cpu++) {
        cpus[cpu].nmi = (struct nmi_cpu_state *)ist_stack_top_of(cpu, IST_NMI);
        for (int i = 1; i <= IST_LAST; i++)
            paging_unmap_page((uint64_t)ist_stacks[cpu][i].guard);
    }
    for (int i = 1; i < TASKS_MAX; i++)
        paging_unmap_page((uint64_t)task_stacks[i].guard);
}

uint64_t task_stack_top(int task) { return (uint64_t)(task_stacks[task].stack + TASK_STACK_SIZE); }

uint64_t ist_stack_bottom_of(int cpu, enum ist_index index)
{
    return (uint64_t)ist_stacks[cpu][index].stack;
}
uint64_t ist_stack_top_of(int cpu, enum ist_index index)
{
    uint64_t end = ist_stack_bottom_of(cpu, index) + IST_STACK_SIZE;
    return index == IST_NMI ? end - sizeof(struct nmi_cpu_state) : end;
}
uint64_t ist_stack_top(enum ist_index index) { return ist_stack_top_of(this_cpu()->index, index); }
uint64_t ist_stack_bottom(enum ist_index index)
{
    return ist_stack_bottom_of(this_cpu()->index, index);
}

/* The name of the stack whose guard page (guard) or whose stack proper holds address, or NULL.
 * CPU 0's IST stacks are plainly "NMI IST"; the others' say whose ("CPU 2 NMI IST"). */
static const char *find_stack(uint64_t address, bool guard)
{
    static char name[24];
    uint64_t size = guard ? PAGE_SIZE : IST_STACK_SIZE;
    if (guard && address - (uint64_t)boot_stack_guard < PAGE_SIZE)
        return "kernel";
    for (int cpu = 0; cpu < CPUS_MAX; cpu++) {
        for (int i = 1; i <= IST_LAST; i++) {
            const struct guarded_stack *s = &ist_stacks[cpu][i];
            if (address - (uint64_t)(guard ? s->guard : s->stack) < size) {
                if (!cpu)
                    return stack_names[i];
                format(name, sizeof name, "CPU %d %s", cpu, stack_names[i]);
                return name;
            }
        }
    }
    for (int i = 1; i < TASKS_MAX; i++)
        if (address - (uint64_t)(guard ? task_stacks[i].guard : task_stacks[i].stack) < size) {
            format(name, sizeof name, "task %d", i);
            return name;
        }
    return 0;
}

const char *stack_guard_owner(uint64_t address) { return find_stack(address, true); }
const char *stack_owner(uint64_t address) { return find_stack(address, false); }
