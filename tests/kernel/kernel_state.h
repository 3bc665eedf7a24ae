/* What the kernel keeps or offers only for these scenarios: variables and functions that nothing in
 * the kernel outside their own file uses, declared here, beside their only readers, rather than in
 * include/ (as gdt[] is in scenarios_boot.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <arch/x86_64/stacks.h>
#include <kernel/multiboot.h>
#include <kernel/task.h>
#include <kernel/user.h>

extern struct boot_info boot_info; /* kernel/main.c: what GRUB told the kernel */
extern bool serial_present;        /* arch/x86_64/serial.c: a UART answered at COM1 */
bool paging_is_mapped(uint64_t virtual_address); /* arch/x86_64/paging.c: in the current table */
uint64_t ist_stack_bottom_of(int cpu, enum ist_index index); /* arch/x86_64/stacks.c */
enum { NESTED_NONE = 0 }; /* nested_rule until an NMI nests (nmi_stack.h: the rules) */
enum { VECTOR_INVALID_OPCODE = 6 }; /* #UD: only scenarios handle it (traps.h: the kernel's) */

/* arch/x86_64/page_fault.c: what the #PF handler read from CR2 for the last fault it fixed up,
 * and how many it fixed. */
extern volatile uint64_t page_fault_last_address, page_fault_fixups;

/* kernel/nmi_provoke.c: more counters since nmi_provoke_start() (nmi_provoke.h has the
 * self-NMIs'), the action each handler pass runs, and the two things that end NMI blocking
 * early: a fixed-up page fault, or an int3 that a hook claims (either one's iretq does it). */
extern volatile uint64_t provoke_passes, provoke_faults, int3_hits, external_claimed;
extern void (*pass_action)(uint64_t pass);
void nmi_provoke_fault(uint64_t address);
void nmi_provoke_int3(void);

/* kernel/user.c: the system calls by number (a scenario puts its own in from SYS_TEST_FIRST on;
 * NULL: ENOSYS), and, when set, what it calls as a user task ends: its exit status, or the
 * exception that killed it (killed_by, NULL when it exited) and CR2; the system calls it made. */
extern user_syscall syscall_table[SYSCALLS];
extern void (*user_task_ended)(int64_t status, const struct trap_frame *killed_by, uint64_t cr2,
                               uint64_t syscalls);

/* scenarios_user.c: how the last user task ended, as user_task_ended told it; user_result_clear()
 * sets it to "not ended" (status -1) and points user_task_ended at the function that fills it. */
struct user_result {
    bool killed;
    int64_t status;   /* exit(status) */
    uint64_t syscalls;
    struct trap_frame fault; /* killed: the exception (vector, error code, rip) */
    uint64_t address;        /* killed by a page fault: the address (CR2) */
};
extern struct user_result user_last;
void user_result_clear(void);

/* kernel/task.c: the tasks alive. */
int task_count(void);

/* kernel/watchdog.c: called after a lockup report with the number of tasks show_state() dumped
 * and the number of NMIs that nested during the dump (nothing is called when NULL). */
extern void (*watchdog_after_report)(int tasks_dumped, uint64_t nested_during_dump);

/* Layouts the hardware fixes, checked here at no cost to the kernel proper's lines. iretq pops
 * rip, cs, rflags, rsp, ss in that order, right after the error code (trap_frame.h). SYSCALL takes
 * SS as STAR's selector + 8, and SYSRET CS and SS as STAR's other selector + 16 and + 8 (gdt.h). */
#include <stddef.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/nmi_stack.h>
#include <arch/x86_64/trap_frame.h>
/* 22 words and no padding, so each field lies at 8 times its place in the list. The CPU aligns RSP
 * to 16 before it pushes SS; 22 words keep it aligned for the call into C. */
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap frame is 22 words");
_Static_assert(sizeof(struct trap_frame) % 16 == 0, "trap frame keeps the stack 16-byte aligned");
/* The nested-NMI entry's layout (nmi_entry.asm): 17 words of nmi_stack, whose iret frame is the
 * trap frame's tail, with the trap frame's other 17 words below it. */
_Static_assert(sizeof(struct nmi_stack) == 17 * 8, "nmi_stack is 17 words");
_Static_assert((sizeof(struct nmi_stack) + 17 * 8) % 16 == 0, "with the 17 words of trap frame "
               "below it, the C call stays 16-byte aligned");
/* Each CPU's nmi_cpu_state sits right above its NMI stack's top (stacks.c). */
_Static_assert(sizeof(struct nmi_cpu_state) % 16 == 0, "the NMI stack top stays 16-byte aligned");
#define TRAP_FRAME_AT(field) offsetof(struct trap_frame, field)
_Static_assert(TRAP_FRAME_AT(error_code) + 8 == TRAP_FRAME_AT(rip), "error code below rip");
_Static_assert(TRAP_FRAME_AT(cs) == TRAP_FRAME_AT(rip) + 8, "iret frame order");
_Static_assert(TRAP_FRAME_AT(rflags) == TRAP_FRAME_AT(rip) + 16, "iret frame order");
_Static_assert(TRAP_FRAME_AT(rsp) == TRAP_FRAME_AT(rip) + 24, "iret frame order");
_Static_assert(TRAP_FRAME_AT(ss) == TRAP_FRAME_AT(rip) + 32, "iret frame order");
_Static_assert(KERNEL_DATA_SELECTOR == KERNEL_CODE_SELECTOR + 8, "SYSCALL's SS");
_Static_assert(USER_DATA_SELECTOR == ((KERNEL_DATA_SELECTOR + 8) | 3), "SYSRET's SS");
_Static_assert(USER_CODE_SELECTOR == ((KERNEL_DATA_SELECTOR + 16) | 3), "SYSRET's CS");
_Static_assert(TSS_SELECTOR(0) == 5 << 3, "the TSS descriptors follow the code and data slots");
