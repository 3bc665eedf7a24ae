/* The GDT and the TSSes. In 64-bit mode segments are nearly unused, but the CPU still needs code
 * segments with the L bit (ring 0 and ring 3), and a TSS per CPU: it is where the CPU finds its
 * IST stacks and RSP0, the stack an interrupt from user mode switches to; one GDT for all. */
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t ist[8]; /* ist[0] is the reserved word before IST1: slots are numbered 1-7 */
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t io_bitmap_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS is 104 bytes");

static struct tss tss[CPUS_MAX];
uint64_t gdt[GDT_ENTRIES] = {
    [KERNEL_CODE_SELECTOR / 8] = 0x00209a0000000000, /* present, ring 0, executable, 64-bit (L) */
    [KERNEL_DATA_SELECTOR / 8] = 0x0000920000000000, /* present, ring 0, writable */
    [USER_DATA_SELECTOR / 8] = 0x0000f20000000000,   /* present, ring 3, writable */
    [USER_CODE_SELECTOR / 8] = 0x0020fa0000000000,   /* present, ring 3, executable, 64-bit (L) */
    /* TSS_SELECTOR(n) / 8: CPU n's TSS descriptor, two slots each in long mode */
};

static struct descriptor_table_register gdt_pointer = {sizeof gdt - 1, (uint64_t)gdt};

void gdt_load(int cpu)
{
    struct tss *t = &tss[cpu];
    for (int i = 1; i <= IST_LAST; i++)
        t->ist[i] = ist_stack_top_of(cpu, i);
    t->io_bitmap_offset = sizeof *t; /* no I/O permission bitmap */

    uint64_t base = (uint64_t)t, limit = sizeof *t - 1;
    uint64_t *descriptor = &gdt[TSS_SELECTOR(cpu) / 8];
    /* type 0x89: present, an available 64-bit TSS */
    descriptor[0] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89UL << 40
                    | ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    descriptor[1] = base >> 32;

    __asm__ volatile("lgdt %0\n\t"
                     "mov %1, %%ds\n\t"
                     "mov %1, %%es\n\t"
                     "mov %1, %%ss\n\t"
                     "pushq %2\n\t" /* reload CS with a far return */
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "ltr %w3"
                     :
                     : "m"(gdt_pointer), "r"(KERNEL_DATA_SELECTOR), "i"(KERNEL_CODE_SELECTOR),
                       "r"(TSS_SELECTOR(cpu))
                     : "rax", "memory");
}

/* user_mode.h's, here beside the TSS: RSP0 and the SYSCALL entry's stack, on a task switch */
void user_set_kernel_stack(uint64_t top)
{
    tss[this_cpu()->index].rsp[0] = top;
    this_cpu()->local.kernel_stack = top;
}
