/* Tasks: kernel threads with their own stacks, switched round-robin on the timer tick. A user
 * task is a kernel thread that entered user mode (kernel/user.c): it has its own page table, and
 * its kernel stack is where the CPU goes when it leaves user mode. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <kernel/string.h>
#include <kernel/task.h>

static struct task tasks[TASKS_MAX];
static int count, current;

static const char *const state_names[] = {
    [TASK_RUNNING] = "running", [TASK_READY] = "ready", [TASK_SLEEPING] = "sleeping", [TASK_BLOCKED] = "blocked",
    [TASK_DEAD] = "dead"};

int task_count(void)
{
    int alive = 0;
    for (int i = 0; i < count; i++)
        alive += tasks[i].state != TASK_DEAD;
    return alive;
}

int task_current(void) { return current; }
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
    count = 1;
    task_create("idle", idle, NULL);
}

struct task *task_create(const char *name, void (*entry)(void *), void *argument)
{
    int slot = count;
    for (int i = count - 1; i > 1; i--) /* a dead task's slot: it never runs again, nor uses its stack */
        if (tasks[i].state == TASK_DEAD)
            slot = i;
    if (slot == TASKS_MAX)
        return NULL;
    struct task *t = &tasks[slot];
    size_t length = strlen(name) < sizeof t->name - 1 ? strlen(name) : sizeof t->name - 1;
    memcpy(t->name, name, length);
    t->name[length] = '\0';
    uint64_t *top = (uint64_t *)task_stack_top(slot); /* with a guard page below (stacks.c) */
    *--top = (uint64_t)task_start;    /* switch_to's ret goes here; then RSP is 16-byte aligned */
    *--top = 0;                       /* rbp: a zero frame pointer ends the backtrace */
    *--top = 0;                       /* rbx */
    *--top = (uint64_t)entry;         /* r12 */
    *--top = (uint64_t)argument;      /* r13 */
    *--top = 0;                       /* r14 */
    *--top = 0;                       /* r15 */
    t->saved_rsp = (uint64_t)top;
    t->page_table = 0;
    t->state = TASK_READY; /* last: the scheduler may pick it from the next tick on */
    if (slot == count)
        count++;
    return t;
}

/* Picks the next ready task after the current one, the idle task (1) only when nothing else is. */
static int pick_next(void)
{
    for (int i = 0; i < count; i++)
        if (tasks[i].state == TASK_SLEEPING && tasks[i].wake_tick <= timer_ticks)
            tasks[i].state = TASK_READY;
    for (int step = 1; step <= count; step++) {
        int i = (current + step) % count;
        if (i != 1 && (tasks[i].state == TASK_READY || (i == current && tasks[i].state == TASK_RUNNING)))
            return i;
    }
    return 1;
}

static void schedule(void)
{
    uint64_t flags = read_rflags();
    interrupts_disable();
    int next = pick_next();
    if (next != current) {
        struct task *previous = &tasks[current];
        if (previous->state == TASK_RUNNING)
            previous->state = TASK_READY;
        tasks[next].state = TASK_RUNNING;
        current = next;
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

void task_tick(void) { schedule(); }
void task_yield(void) { schedule(); }

void task_sleep(uint64_t ticks)
{
    tasks[current].wake_tick = timer_ticks + ticks;
    tasks[current].state = TASK_SLEEPING;
    schedule();
}

void task_block(void)
{
    for (;;) {
        tasks[current].state = TASK_BLOCKED;
        schedule();
    }
}

void task_exit(void)
{
    for (;;) {
        tasks[current].state = TASK_DEAD;
        schedule();
    }
}

void task_list(void)
{
    for (int i = 0; i < count; i++)
        if (tasks[i].state != TASK_DEAD)
            printk("  %d %-14s %s\n", i, tasks[i].name, state_names[tasks[i].state]);
}

int show_state(void)
{
    printk("show_state: %d tasks\n", task_count());
    int dumped = 0;
    for (int i = 0; i < count; i++) {
        const struct task *t = &tasks[i];
        if (t->state == TASK_DEAD)
            continue;
        printk("task %d %s (%s)\n", i, t->name, state_names[t->state]);
        if (i == current) {
            backtrace_print((uint64_t)__builtin_return_address(0), *(uint64_t *)__builtin_frame_address(0));
        } else {
            uint64_t saved[7]; /* r15 r14 r13 r12 rbx rbp return-address, as switch_to left them */
            if (copy_from_kernel_nofault(saved, (const void *)t->saved_rsp, sizeof saved))
                printk("  (saved stack pointer %016lx is not readable)\n", t->saved_rsp);
            else
                backtrace_print(saved[6], saved[5]);
        }
        dumped++;
    }
    printk("show_state: %d tasks dumped\n", dumped);
    return dumped;
}

/* The cast of the stories (docs/stories.md): two workers, a sleeper, and a task whose frame chain
 * leads into unmapped memory, which show_state() must survive. */
static void worker(void *argument)
{
    for (;;)
        task_sleep((uint64_t)argument);
}

static void sleeper(void *unused) { task_sleep(1000000); }

static __attribute__((noinline)) void block_with_broken_frame_chain(void)
{
    uint64_t *frame = __builtin_frame_address(0);
    frame[0] = 0x0000100000000000UL; /* our caller's saved rbp, now unmapped: never used, we never return */
    task_block();
}

static void broken_frames(void *unused) { block_with_broken_frame_chain(); }

void task_create_cast(void)
{
    task_create("worker-1", worker, (void *)1);
    task_create("worker-2", worker, (void *)3);
    task_create("sleeper", sleeper, NULL);
    task_create("broken-frames", broken_frames, NULL);
    task_sleep(5); /* let every task run once and settle */
}
