/* The GDT and the TSS. In 64-bit mode segments are nearly unused, but the CPU still needs code
 * segments with the L bit (ring 0 and ring 3), and a TSS: it is where the CPU finds the IST stacks
 * and RSP0, the stack an interrupt from user mode switches to. */
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/traps.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/string.h>

#define TSS_SELECTOR 0x28

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t ist[8]; /* ist[0] is the reserved word before IST1: slots are numbered 1-7 */
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t io_bitmap_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS is 104 bytes");

static struct tss tss;
/* The order is the one SYSCALL and SYSRET need (user_mode.c): kernel data right after kernel
 * code, user code right after user data. */
uint64_t gdt[7] = {
    0,
    0x00209a0000000000, /* 0x08 kernel code: present, ring 0, executable, 64-bit (L) */
    0x0000920000000000, /* 0x10 kernel data: present, ring 0, writable */
    0x0000f20000000000, /* 0x18 user data: present, ring 3, writable */
    0x0020fa0000000000, /* 0x20 user code: present, ring 3, executable, 64-bit (L) */
    0, 0,               /* 0x28 the TSS descriptor takes two slots in long mode */
};
_Static_assert(USER_DATA_SELECTOR == (3 << 3 | 3) && USER_CODE_SELECTOR == (4 << 3 | 3), "selectors match the GDT");

static struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
} gdt_pointer = {sizeof gdt - 1, (uint64_t)gdt};

void gdt_init(void)
{
    for (int i = 1; i <= IST_LAST; i++)
        tss.ist[i] = ist_stack_top(i);
    tss.io_bitmap_offset = sizeof tss; /* no I/O permission bitmap */

    uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
    gdt[5] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89UL << 40 /* present, available 64-bit TSS */
             | ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    gdt[6] = base >> 32;

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
                     : "m"(gdt_pointer), "r"(KERNEL_DATA_SELECTOR), "i"(KERNEL_CODE_SELECTOR), "r"(TSS_SELECTOR)
                     : "rax", "memory");
}

void tss_set_kernel_stack(uint64_t top) { tss.rsp[0] = top; }
