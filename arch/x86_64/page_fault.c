/* The page-fault (#PF) handler, for faults in kernel mode (one from user mode goes to the user
 * fault hook first: traps.c). A kernel fault is offered to the hook the kernel registered (the
 * vmalloc area, whose top-level entry a page table may not have yet: kernel/vmalloc.c), then to
 * the exception table (exception_table.c); what neither takes, traps.c panics on. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/sections.h>
#include <arch/x86_64/traps.h>
#include <kernel/panic.h>

volatile uint64_t page_fault_last_address;
volatile uint64_t page_fault_fixups;
static page_fault_hook kernel_hook;

/* The hook runs inside the #PF path, which an int3 must never interrupt: a hook that a kprobe
 * could patch is refused outright. */
void page_fault_register_hook(page_fault_hook hook)
{
    if ((char *)hook < noprobe_start || (char *)hook >= noprobe_end)
        panic("page_fault_register_hook: the hook at %p is not NOKPROBE", (void *)hook);
    kernel_hook = hook;
}

static NOKPROBE bool page_fault_handler(struct trap_frame *frame)
{
    uint64_t address = read_cr2(); /* first: a later fault (or an NMI that faults) changes it */
    if (kernel_hook && kernel_hook(address))
        return true; /* e.g. the mapping was only missing from this page table: try again */
    if (!exception_table_fixup(frame))
        return false;
    page_fault_last_address = address;
    page_fault_fixups++;
    return true;
}

void page_fault_init(void)
{
    trap_register(VECTOR_PAGE_FAULT, page_fault_handler);
    trap_register(VECTOR_GENERAL_PROTECTION, exception_table_fixup);
    trap_register(VECTOR_SEGMENT_NOT_PRESENT, exception_table_fixup); /* both only from a */
    trap_register(VECTOR_STACK_FAULT, exception_table_fixup);         /* return to user mode */
}
