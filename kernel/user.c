/* User tasks and system calls. A user task is a kernel thread (task.c) that builds its address
 * space and drops to ring 3 (user_task). It comes back into the kernel only through a system call,
 * an interrupt or exception, or an NMI, each landing on its kernel stack (or, for NMIs, moved
 * there: nmi_entry.asm). Whatever it does wrong kills it; the kernel goes on. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <kernel/string.h>
#include <kernel/task.h>
#include <kernel/user.h>

#define WRITE_MAX 256
#define SLOW_MAX_MICROSECONDS 10000

/* A row of the programs' table (include/kernel/user_programs.inc). The entry is the program's
 * address in the kernel image; user mode sees the block of programs at USER_BASE. */
struct user_program {
    const char *name, *about;
    uint64_t entry;
};
extern const struct user_program user_program_table[], user_program_table_end[]; /* linker.ld */

static uint64_t syscall_counts[TASKS_MAX], arguments[TASKS_MAX];
/* Called as a user task ends, when set: by the tests (tests/kernel/kernel_state.h). */
void (*user_task_ended)(int64_t status, const struct trap_frame *killed_by, uint64_t cr2,
                        uint64_t syscalls);

static int64_t sys_write(struct trap_frame *frame)
{
    char text[WRITE_MAX + 1];
    uint64_t length = frame->rsi;
    if (length > WRITE_MAX)
        return -EINVAL;
    if (copy_from_user(text, frame->rdi, length)) /* checks the range is user memory, then copies */
        return -EFAULT;
    text[length] = '\0';
    printk("%s", text);
    return (int64_t)length;
}

static int64_t sys_exit(struct trap_frame *frame)
{
    int self = task_current();
    if (user_task_ended)
        user_task_ended((int64_t)frame->rdi, NULL, 0, syscall_counts[self]);
    printk("user: task %d (%s) exited with status %ld after %lu system calls\n", self,
           task_get(self)->name, (int64_t)frame->rdi, syscall_counts[self]);
    task_exit();
}

static int64_t sys_yield(struct trap_frame *frame)
{
    task_yield();
    return 0;
}

static int64_t sys_slow(struct trap_frame *frame)
{
    if (frame->rdi > SLOW_MAX_MICROSECONDS)
        return -EINVAL;
    udelay(frame->rdi); /* interrupts and NMIs land in the kernel half of a system call meanwhile */
    return 0;
}

static int64_t sys_nmi_counts(struct trap_frame *frame)
{
    uint64_t counts[3] = {nmi_this_cpu()->entries, nmi_this_cpu()->nested, nmi_this_cpu()->passes};
    /* a read-only page faults too */
    return copy_to_user(frame->rdi, counts, sizeof counts) ? -EFAULT : 0;
}

user_syscall syscall_table[SYSCALLS] = {
    [SYS_WRITE] = sys_write, [SYS_EXIT] = sys_exit,           [SYS_YIELD] = sys_yield,
    [SYS_SLOW] = sys_slow,   [SYS_NMI_COUNTS] = sys_nmi_counts,
};

/* From user_entry.asm, for every SYSCALL. */
void syscall_dispatch(struct trap_frame *frame)
{
    syscall_counts[task_current()]++;
    interrupts_enable(); /* SYSCALL masked them until the entry was on the kernel stack */
    uint64_t number = frame->rax;
    /* All ones if number < SYSCALLS, else 0, by arithmetic, not a branch the CPU could guess
     * past: a number out of range cannot reach past the table even speculatively. */
    uint64_t in_range;
    __asm__("cmp %2, %1; sbb %0, %0" : "=r"(in_range) : "r"(number), "i"(SYSCALLS) : "cc");
    number &= in_range;
    user_syscall call = in_range ? syscall_table[number] : NULL;
    frame->rax = call ? (uint64_t)call(frame) : (uint64_t)-ENOSYS;
}

static __attribute__((noreturn)) void killed(const struct trap_frame *fault, uint64_t cr2,
                                             const char *what)
{
    int self = task_current();
    if (user_task_ended)
        user_task_ended(0, fault, cr2, syscall_counts[self]);
    char address[32] = "";
    if (fault->vector == VECTOR_PAGE_FAULT)
        format(address, sizeof address, ", address %016lx", cr2);
    /* one line, one printk: nothing can land between its parts */
    printk("user: task %d (%s) killed: %s%s, error code 0x%lx, at RIP %016lx%s\n", self,
           task_get(self)->name, what, trap_name((unsigned)fault->vector), fault->error_code,
           fault->rip, address);
    task_exit();
}

void user_fault(const struct trap_frame *frame) { killed(frame, read_cr2(), ""); }

/* The exception table sends a faulting iretq to user mode here: jumped to, not called, on the
 * stack the return was made from (hence the realignment). The fault was in ring 0, after the exit's
 * swapgs: GS may be the user's. The fault's frame says what was refused. */
__attribute__((force_align_arg_pointer)) void user_return_faulted(void)
{
    gs_make_kernel();
    uint64_t user_rip = 0;
    copy_from_kernel_nofault(&user_rip, (const void *)fixup_last_fault.rsp, sizeof user_rip);
    printk("user: the return to user mode (to RIP %016lx) faulted in the kernel, "
           "on the task's kernel stack\n", user_rip);
    killed(&fixup_last_fault, 0, "its return to user mode faulted: ");
}

void user_list_programs(void)
{
    printk("user programs (user NAME [NUMBER]):\n");
    for (const struct user_program *p = user_program_table; p < user_program_table_end; p++)
        printk("  %-20s %s\n", p->name, p->about);
}

static void user_task(void *program)
{
    const struct user_program *p = program;
    int self = task_current();
    struct task *t = task_get(self);
    syscall_counts[self] = 0;
    t->page_table = user_address_space(self);
    write_cr3(t->page_table);
    struct trap_frame frame = {
        .rdi = arguments[self],
        .rip = USER_BASE + (p->entry - (uint64_t)user_programs_start), /* where user mode sees it */
        .cs = USER_CODE_SELECTOR,
        .rflags = RFLAGS_IF | RFLAGS_RESERVED_ONE,
        .rsp = USER_END, /* the top of its stack */
        .ss = USER_DATA_SELECTOR,
    };
    interrupts_disable();
    /* Into ring 3 through the exception path's exit (trap_entry.asm), as if from this frame's
     * interrupt: every other register starts at 0. */
    __asm__ volatile("mov %0, %%rsp\n\tjmp trap_return" : : "r"(&frame) : "memory");
}

bool user_run(const char *name, uint64_t argument, bool wait)
{
    const struct user_program *p = user_program_table;
    while (p < user_program_table_end && strcmp(p->name, name))
        p++;
    if (p == user_program_table_end) {
        printk("user: no program '%s' (type 'user' for the list)\n", name);
        return false;
    }
    if (nmi_current_strategy() != NMI_NESTED && nmi_current_strategy() != NMI_RET) {
        printk("user: user mode needs nmi=nested or ret (without an IST stack an NMI on the "
               "SYSCALL entry would push its frame wherever user space pointed RSP; naive is "
               "broken on purpose)\n");
        return false;
    }
    uint64_t flags = read_rflags();
    interrupts_disable(); /* its argument is in place before it can run */
    struct task *t = task_create(p->name, user_task, (void *)p);
    if (t)
        arguments[t - task_get(0)] = argument;
    if (flags & RFLAGS_IF)
        interrupts_enable();
    if (!t) {
        printk("user: no free task slot (%d tasks)\n", TASKS_MAX);
        return false;
    }
    while (wait && t->state != TASK_DEAD)
        task_sleep(1);
    return true;
}
