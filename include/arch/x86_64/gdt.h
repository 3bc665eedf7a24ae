/* The GDT (arch/x86_64/gdt.c): every selector the kernel loads or checks, and the per-CPU TSS
 * descriptors. Slot order is what SYSCALL and SYSRET need (user_mode.c): kernel data right
 * after kernel code, user code right after user data. The asm entries get the selectors through
 * asm_offsets.c, and tests/model_check.py reads them from the build's asm_offsets.inc. */
#pragma once
#include <stdint.h>

#define KERNEL_CODE_SELECTOR 0x08 /* GDT slot 1 */
#define KERNEL_DATA_SELECTOR 0x10 /* GDT slot 2 */
#define USER_DATA_SELECTOR 0x1b   /* GDT slot 3, RPL 3 */
#define USER_CODE_SELECTOR 0x23   /* GDT slot 4, RPL 3 */

/* CPU n's TSS descriptor, after the five code and data slots: two slots each in long mode. The
 * task register holds it, which is how this_cpu() (smp.h) tells the CPUs apart. */
#define TSS_SELECTOR(cpu) (0x28 + 16 * (cpu))
#define GDT_ENTRIES (5 + 2 * CPUS_MAX) /* CPUS_MAX: smp.h, which includes this header */

/* What lgdt and lidt load, and sgdt and sidt store: a table's limit and address. */
struct descriptor_table_register {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

void gdt_load(int cpu); /* the GDT, with CPU cpu's TSS in the task register */
