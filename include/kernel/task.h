/* Kernel threads and a round-robin scheduler driven by the APIC timer tick. */
#pragma once
#include <stdint.h>

#define TASKS_MAX 16
#define TASK_STACK_SIZE (16 * 1024)

enum task_state {
    TASK_DEAD,    /* a free slot: never used (0), or its CPU has switched away from the task */
    TASK_RUNNING, TASK_READY, TASK_SLEEPING, TASK_BLOCKED,
    TASK_EXITING, /* it has called task_exit; its CPU may still be on its stack */
};

struct task {
    char name[16];
    enum task_state state;
    uint64_t saved_rsp; /* while not running: where switch_to left its registers */
    uint64_t wake_tick; /* TASK_SLEEPING: when to become ready */
    uint64_t page_table; /* CR3 while it runs; 0: the kernel's (kernel threads) */
    int cpu;             /* the CPU it runs on, always */
};

void task_init(void); /* the boot thread becomes task "main"; an "idle" task is made */
/* A task on CPU cpu; with no entry, that CPU's first task (running), also its idle task (smp.c). */
struct task *task_create_on(int cpu, const char *name, void (*entry)(void *argument),
                            void *argument);
struct task *task_create(const char *name, void (*entry)(void *argument), void *argument);
void task_yield(void); /* maybe switch: also the timer tick's hook */
void task_sleep(uint64_t ticks); /* timer ticks */
__attribute__((noreturn)) void task_block(void);
__attribute__((noreturn)) void task_exit(void); /* the task is dead; its slot is reused */
int task_current(void);  /* the running task's number */
struct task *task_get(int index);
void task_list(void); /* one line per task: number, name, state */
/* Every task with its state and a backtrace of its stack, read through the nofault accessors so
 * that a corrupted frame chain is reported and skipped. Returns the number of tasks dumped. */
int show_state(void);
