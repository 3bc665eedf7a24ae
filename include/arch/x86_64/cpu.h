/* Single-instruction helpers: port I/O, MSRs, control registers, CPUID. */
#pragma once
#include <stdint.h>

#define KERNEL_VMA 0xffffffff80000000UL
#define PAGE_SIZE 4096UL

#define RFLAGS_RESERVED_ONE (1UL << 1) /* always reads as 1; every other flag clear */
#define RFLAGS_IF (1UL << 9)

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t value)
{
    __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return ((uint64_t)high << 32) | low;
}
static inline void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

#define DEFINE_CONTROL_REGISTER(n)                                                              \
    static inline uint64_t read_cr##n(void)                                                     \
    {                                                                                           \
        uint64_t value;                                                                         \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(value));                                   \
        return value;                                                                           \
    }                                                                                           \
    static inline void write_cr##n(uint64_t value)                                              \
    {                                                                                           \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(value) : "memory");                          \
    }
DEFINE_CONTROL_REGISTER(0)
DEFINE_CONTROL_REGISTER(2)
DEFINE_CONTROL_REGISTER(3)
DEFINE_CONTROL_REGISTER(4)

static inline uint64_t read_rflags(void)
{
    uint64_t value;
    __asm__ volatile("pushfq; popq %0" : "=r"(value));
    return value;
}

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
    __asm__ volatile("cpuid" : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                     : "a"(leaf), "c"(subleaf));
}

/* CPUID leaf 7's EBX (0 where the CPU has no leaf 7): SMEP is bit 7, SMAP bit 20. */
#define CPUID7_SMEP (1u << 7)
#define CPUID7_SMAP (1u << 20)
static inline uint32_t cpuid_leaf7_ebx(void)
{
    uint32_t regs[4];
    cpuid(0, 0, regs);
    if (regs[0] < 7)
        return 0;
    cpuid(7, 0, regs);
    return regs[1];
}

static inline void interrupts_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void interrupts_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause"); }
static inline void invlpg(uint64_t address)
{
    __asm__ volatile("invlpg (%0)" : : "r"(address) : "memory");
}

static inline __attribute__((noreturn)) void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}
