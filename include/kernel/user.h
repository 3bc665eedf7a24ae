/* User tasks: programs built into the kernel image, run in ring 3 with their own page table,
 * talking to the kernel through SYSCALL. A fault kills the task, never the kernel. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <arch/x86_64/trap_frame.h>

/* System calls: number in RAX, arguments in RDI, RSI, RDX; the result in RAX (negative: error). */
enum {
    SYS_WRITE = 0, /* write(buffer, length): to the console, at most 256 bytes */
    SYS_EXIT = 1,  /* exit(status) */
    SYS_YIELD = 2, /* yield() */
    SYS_SLOW = 3,  /* slow(microseconds): busy in the kernel, interrupts on, at most 10000 us */
    SYS_NMI_COUNTS = 4, /* nmi_counts(buffer): NMIs delivered, nested, handler passes: 3 words */
    SYS_TEST_FIRST = 8, /* 8 to 11: for the test scenarios (tests/kernel/kernel_state.h) */
    SYSCALLS = 12,
};
#define EFAULT 14
#define EINVAL 22
#define ENOSYS 38

/* Starts program `name` with `argument` in RDI, and with wait, waits until it has ended; false
 * (with a one-line reason printed) when it could not start. */
bool user_run(const char *name, uint64_t argument, bool wait);
void user_list_programs(void);
typedef int64_t (*user_syscall)(struct trap_frame *frame);

/* Trap dispatch's hook for an exception in user mode: it kills the task. */
__attribute__((noreturn)) void user_fault(const struct trap_frame *frame);
