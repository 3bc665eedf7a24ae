/* Every CPU: what each one has of its own, and how the others are started (arch/x86_64/smp.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/user_mode.h>

#define CPUS_MAX 8

/* What the arch code keeps of each CPU. The kernel's per-CPU state (the scheduler's, the
 * watchdog's, the timer's tick counts) is in arrays of its own, indexed by `index`, packed: a
 * few words written once a tick. One cache line each here keeps this_cpu()'s index arithmetic
 * a shift. */
struct nmi_cpu_state;
struct cpu {
    struct nmi_cpu_state *nmi; /* right above the top of its NMI IST stack (stacks.c) */
    int index;                 /* 0 is the CPU that booted; the TSS selector tells which runs */
    uint32_t apic_id;
    volatile bool online;
    struct cpu_local local;    /* what GS points at in the kernel */
} __attribute__((aligned(64)));
extern struct cpu cpus[CPUS_MAX];
extern int cpu_count; /* CPUs online; their indexes are 0 .. cpu_count - 1 */

/* The task register holds this CPU's TSS selector (gdt.c); 0 before CPU 0 loads it. Unlike GS,
 * it is right in every context, an NMI on the SYSCALL entry's first instruction included. */
static inline struct cpu *this_cpu(void)
{
    uint16_t selector;
    __asm__ volatile("str %0" : "=r"(selector));
    return &cpus[selector < TSS_SELECTOR(0) ? 0 : (selector - TSS_SELECTOR(0)) / 16];
}
/* Starts the other CPUs (at most N with smp=N, none with nosmp); their start-up code goes in
 * low_page, a usable page below 1 MiB. */
void smp_init(uint64_t low_page);
