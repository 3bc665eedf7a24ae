/* Recoverable kernel faults: reads and writes that may fault (exception_table.c), page faults
 * (page_fault.c), and int3 breakpoints with hooks (breakpoint.c). Their handlers return with
 * iretq. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/trap_frame.h>

/* Copy size bytes, reading and writing both through the exception table: 0 on success, -1 when
 * an address faulted (the copy stops there). */
int copy_from_kernel_nofault(void *destination, const void *source, size_t size);
/* Writes an MSR and reads it back, both through the exception table: true if neither raised #GP
 * and the MSR kept the value. For an MSR that CPUID says is there, but a hypervisor may lack. */
bool msr_write_kept(uint32_t msr, uint64_t value);

/* The exception table's lookup (exception_table.c): true when the faulting instruction has an
 * entry, with frame's RIP moved to its fixup. The #GP, #NP and #SS handler as it is. */
bool exception_table_fixup(struct trap_frame *frame);
/* The exception the last fixup on this CPU was for: one record per CPU, or two CPUs fixing up
 * at once would each read the other's. */
extern struct trap_frame fixup_last_faults[];
#define fixup_last_fault (fixup_last_faults[this_cpu()->index])

void page_fault_init(void); /* the #PF, #GP, #NP and #SS handlers (page_fault.c) */
/* The kernel's say on a kernel-mode page fault at address, before the exception table's: true
 * when it fixed the cause and the instruction can run again. One hook; it must be NOKPROBE, as
 * the whole #PF path is. */
typedef bool (*page_fault_hook)(uint64_t address);
void page_fault_register_hook(page_fault_hook hook);

/* int3 hooks: a hook runs when the int3 at address is hit, and then execution goes on after it. */
typedef bool (*int3_hook)(struct trap_frame *frame);
bool register_int3_hook(uint64_t address, int3_hook hook);
void unregister_int3_hook(uint64_t address);
void breakpoint_init(void);
