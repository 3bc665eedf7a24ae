/* User mode, the arch side: SYSCALL and SYSRET (the ring 3 selectors are in gdt.h), the per-CPU
 * area that GS points at in the kernel, user address spaces, and copies to and from user memory. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* User space is one 2 MiB stretch in the second PML4 slot: the first slot holds the kernel's
 * identity map of low memory, which no user pointer may ever reach. */
#define USER_BASE 0x0000008000000000UL
#define USER_CODE_PAGES 8                   /* the programs, read-only, at USER_BASE */
#define USER_STACK_PAGES 4                  /* writable, just below USER_END */
#define USER_END (USER_BASE + 0x200000)

/* What GS points at while the CPU runs kernel code (swapgs swaps it with the user's GS on every
 * entry from and exit to user mode). One per CPU, in its struct cpu (smp.h). */
struct cpu_local {
    uint64_t kernel_stack; /* the running task's kernel stack top: TSS RSP0 too */
    uint64_t user_rsp;     /* the SYSCALL entry's scratch slot for the user's RSP */
};

void user_mode_init(void); /* this CPU's SYSCALL MSRs, GS, SMEP and SMAP where it has them */
void user_set_kernel_stack(uint64_t top); /* RSP0 and cpu_local.kernel_stack (gdt.c) */
/* A page table for user task slot `slot`: the kernel's mappings, the programs at USER_BASE and a
 * fresh zeroed stack. Returns its physical address, for CR3. */
uint64_t user_address_space(int slot);
/* 0, or -1 when the range is not user memory or faults (the copy stops there). */
int copy_from_user(void *destination, uint64_t source, size_t size);
int copy_to_user(uint64_t destination, const void *source, size_t size);
void gs_make_kernel(void); /* swapgs if GS is still the user's (after a failed return to user) */

void syscall_entry(void); /* user_entry.asm */
extern char user_programs_start[], user_programs_end[]; /* linker.ld */
