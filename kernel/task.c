/* Tasks: kernel threads with their own stacks, switched round-robin on the timer tick. A user
 * task is a kernel thread that entered user mode (kernel/user.c): it has its own page table, and
 * its kernel stack is where the CPU goes when it leaves user mode.
 *
 * Each task stays on the CPU it was made for, and each CPU's scheduler only looks at its own
 * tasks: a per-CPU run queue, with one table. A task's state is written by its own CPU only (a
 * new task's by its maker, before it can run), so only finding a free slot needs the lock. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/lock.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <kernel/string.h>
#include <kernel/task.h>

static struct task tasks[TASKS_MAX];
static struct lock task_lock;
/* Each CPU's scheduler state, by CPU index: the task it runs, and the one it runs when no other
 * of its tasks is ready. */
static struct {
    int current_task, idle_task;
} cpu_tasks[CPUS_MAX];

/* arch/x86_64/switch.asm. A task that is not running: what switch_to left at its saved RSP. */
void switch_to(uint64_t *save_rsp, uint64_t new_rsp);
void task_start(void);
struct switched_out { uint64_t r15, r14, r13, r12, rbx, rbp, return_address; };

static const char *const state_names[] = {
    [TASK_RUNNING] = "running", [TASK_READY] = "ready",     [TASK_SLEEPING] = "sleeping",
    [TASK_BLOCKED] = "blocked", [TASK_EXITING] = "exiting", [TASK_DEAD] = "dead"};

int task_count(void)
{
    int alive = 0;
    for (int i = 0; i < TASKS_MAX; i++)
        alive += tasks[i].state != TASK_DEAD;
    return alive;
}

int task_current(void) { return cpu_tasks[this_cpu()->index].current_task; }
struct task *task_get(int index) { return &tasks[index]; }

static void idle(void *unused)
{
    for (;;)
        __asm__ volatile("sti; hlt");
}

void task_init(void)
{
    memcpy(tasks[0].name, "main", 5);
    tasks[0].state = TASK_RUNNING;
    cpu_tasks[this_cpu()->index].idle_task = (int)(task_create("idle", idle, NULL) - tasks);
}

struct task *task_create_on(int cpu, const char *name, void (*entry)(void *), void *argument)
{
    uint64_t taken = lock_take(&task_lock);
    int slot = TASKS_MAX;
    /* the first dead slot: a dead task never runs again, nor uses its stack */
    for (int i = TASKS_MAX - 1; i > 0; i--)
        if (tasks[i].state == TASK_DEAD)
            slot = i;
    if (slot < TASKS_MAX)
        tasks[slot].state = TASK_BLOCKED; /* taken, not yet runnable */
    lock_give(&task_lock, taken);
    if (slot == TASKS_MAX)
        return NULL;
    struct task *t = &tasks[slot];
    format(t->name, sizeof t->name, "%s", name); /* cut to fit */
    /* switch_to's ret goes to task_start (then RSP is 16-byte aligned), which calls
     * entry(argument); a zero rbp ends the backtrace. A guard page lies below (stacks.c). */
    struct switched_out *saved = (struct switched_out *)task_stack_top(slot) - 1;
    *saved = (struct switched_out){.r12 = (uint64_t)entry, .r13 = (uint64_t)argument,
                                   .return_address = (uint64_t)task_start};
    t->saved_rsp = (uint64_t)saved;
    t->page_table = 0;
    t->cpu = cpu;
    if (!entry) /* the first task of a CPU being started: it runs now, and is its idle task */
        cpu_tasks[cpu].current_task = cpu_tasks[cpu].idle_task = slot;
    /* last: from here on it is runnable */
    __atomic_store_n(&t->state, entry ? TASK_READY : TASK_RUNNING, __ATOMIC_RELEASE);
    return t;
}

struct task *task_create(const char *name, void (*entry)(void *), void *argument)
{
    return task_create_on(this_cpu()->index, name, entry, argument);
}

/* Picks CPU cpu's next ready task after the current one, its idle task only when nothing else
 * is. */
static int pick_next(int cpu)
{
    int current = cpu_tasks[cpu].current_task;
    for (int i = 0; i < TASKS_MAX; i++)
        if (tasks[i].cpu == cpu && tasks[i].state == TASK_SLEEPING &&
            tasks[i].wake_tick <= timer_cpu_ticks[cpu])
            tasks[i].state = TASK_READY;
        else if (tasks[i].cpu == cpu && tasks[i].state == TASK_EXITING && i != current)
            tasks[i].state = TASK_DEAD; /* switched away from: its stack may be reused */
    for (int step = 1; step <= TASKS_MAX; step++) {
        int i = (current + step) % TASKS_MAX;
        if (i != cpu_tasks[cpu].idle_task && tasks[i].cpu == cpu &&
            (tasks[i].state == TASK_READY || (i == current && tasks[i].state == TASK_RUNNING)))
            return i;
    }
    return cpu_tasks[cpu].idle_task;
}

static void schedule(void)
{
    uint64_t flags = read_rflags();
    interrupts_disable();
    int cpu = this_cpu()->index;
    int next = pick_next(cpu);
    if (next != cpu_tasks[cpu].current_task) {
        struct task *previous = &tasks[cpu_tasks[cpu].current_task];
        if (previous->state == TASK_RUNNING)
            previous->state = TASK_READY;
        tasks[next].state = TASK_RUNNING;
        cpu_tasks[cpu].current_task = next;
        /* Where the CPU goes from user mode, and the address space: both the next task's. */
        user_set_kernel_stack(next ? task_stack_top(next) : 0);
        uint64_t root = tasks[next].page_table ? tasks[next].page_table : paging_master_root();
        if ((read_cr3() & PAGE_ADDRESS_MASK) != root)
            write_cr3(root);
        switch_to(&previous->saved_rsp, tasks[next].saved_rsp);
    }
    if (flags & RFLAGS_IF)
        interrupts_enable();
}

void task_yield(void) { schedule(); }

void task_sleep(uint64_t ticks)
{
    if (!timer_ticking) { /* no tick would ever wake it: let the others run until it is time */
        uint64_t end = rdtsc() + ticks * tsc_khz * (1000 / TIMER_HZ);
        while (rdtsc() < end)
            schedule();
        return;
    }
    int cpu = this_cpu()->index;
    tasks[task_current()].wake_tick = timer_cpu_ticks[cpu] + ticks; /* its own CPU's clock */
    tasks[task_current()].state = TASK_SLEEPING;
    schedule();
}

/* Inlined, so that a backtrace of the task names task_block or task_exit, as it always has. */
static inline __attribute__((always_inline, noreturn)) void stop_running(enum task_state state)
{
    for (;;) {
        tasks[task_current()].state = state;
        schedule();
    }
}

void task_block(void) { stop_running(TASK_BLOCKED); }
void task_exit(void) { stop_running(TASK_EXITING); }

void task_list(void)
{
    for (int i = 0; i < TASKS_MAX; i++)
        if (tasks[i].state != TASK_DEAD)
            printk(cpu_count > 1 ? "  %d %-14s %-8s on CPU %d\n" : "  %d %-14s %s\n", i,
                   tasks[i].name, state_names[tasks[i].state], tasks[i].cpu);
}

int show_state(void)
{
    printk("show_state: %d tasks\n", task_count());
    int dumped = 0;
    for (int i = 0; i < TASKS_MAX; i++) {
        const struct task *t = &tasks[i];
        if (t->state == TASK_DEAD)
            continue;
        printk("task %d %s (%s)\n", i, t->name, state_names[t->state]);
        if (t->state == TASK_RUNNING && t->cpu != this_cpu()->index) {
            printk("  (running on CPU %d: backtrace-all shows where)\n", t->cpu);
        } else if (i == task_current()) {
            uint64_t caller_rbp = *(uint64_t *)__builtin_frame_address(0);
            backtrace_print((uint64_t)__builtin_return_address(0), caller_rbp);
        } else {
            struct switched_out saved;
            if (copy_from_kernel_nofault(&saved, (const void *)t->saved_rsp, sizeof saved))
                printk("  (saved stack pointer %016lx is not readable)\n", t->saved_rsp);
            else
                backtrace_print(saved.return_address, saved.rbp);
        }
        dumped++;
    }
    printk("show_state: %d tasks dumped\n", dumped);
    return dumped;
}
