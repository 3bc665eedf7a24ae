/* The IDT: 256 gates, all through trap_entry.asm (the NMI gate is replaced in nmi.c). Four
 * exceptions run on IST stacks because the stack they arrive on cannot be trusted: an NMI or #MC
 * can land anywhere, even on the first instruction of another handler; a #DF usually means the
 * stack is gone; #DB can fire inside other handlers (kprobes single-step). */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/traps.h>

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type; /* 0x8e: present, ring 0, 64-bit interrupt gate (clears IF) */
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "long-mode gates are 16 bytes");

static struct idt_gate idt[256] __attribute__((aligned(16))); /* see idt_replace_gate */
/* Every entry has a clac in the 3 bytes in front of it, where each gate points when the CPU has
 * SMAP: an entry from kernel mode keeps RFLAGS.AC (docs/nmi.md, "What user mode may not do"). */
static uint64_t clac_in_front;
static struct descriptor_table_register idt_pointer = {sizeof idt - 1, (uint64_t)idt};

static void idt_set_gate(unsigned vector, uint64_t handler, unsigned ist)
{
    handler -= clac_in_front;
    /* LAB 1 BEGIN: fill in the 16-byte gate: the handler in three pieces, selector, IST, type */
    idt[vector] = (struct idt_gate){
        .offset_low = (uint16_t)handler,
        .selector = KERNEL_CODE_SELECTOR,
        .ist = (uint8_t)ist,
        .type = 0x8e,
        .offset_middle = (uint16_t)(handler >> 16),
        .offset_high = (uint32_t)(handler >> 32),
    };
    /* LAB 1 STUB */
    /* LAB 1 END */
}

/* A gate other CPUs may be delivering through this instant, pointed elsewhere with one aligned
 * 8-byte store of its low half (offset bits 0-31, selector, IST, type), so none ever sees a mix
 * of two gates. The high half, offset bits 32-63, must not change: linker.ld checks that. */
void idt_replace_gate(unsigned vector, uint64_t handler, unsigned ist)
{
    handler -= clac_in_front;
    uint64_t low = (handler & 0xffff) | (uint64_t)KERNEL_CODE_SELECTOR << 16 |
                   (uint64_t)ist << 32 | 0x8eUL << 40 | (handler >> 16 & 0xffff) << 48;
    __atomic_store_n((uint64_t *)&idt[vector], low, __ATOMIC_RELEASE);
}

void idt_init(void)
{
    if (cpuid_leaf7_ebx() & CPUID7_SMAP)
        clac_in_front = CLAC_BYTES;
    static const uint8_t ist_of[VECTORS] = {[VECTOR_NMI] = IST_NMI, [VECTOR_DEBUG] = IST_DEBUG,
        [VECTOR_DOUBLE_FAULT] = IST_DOUBLE_FAULT, [VECTOR_MACHINE_CHECK] = IST_MACHINE_CHECK};
    for (unsigned vector = 0; vector < VECTORS; vector++)
        idt_set_gate(vector, trap_entry_table[vector], ist_of[vector]);
    idt_load();
}

void idt_load(void) { __asm__ volatile("lidt %0" : : "m"(idt_pointer)); }
