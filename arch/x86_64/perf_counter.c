/* A performance counter as the watchdog's NMI source, as Linux's hard-lockup detector uses: it
 * counts this CPU's unhalted cycles up from minus a period, and its overflow raises an NMI
 * through the local APIC's performance-counter entry. Intel describes its counters in CPUID leaf
 * 0Ah (architectural performance monitoring, event 3Ch: core cycles); AMD's core counters are
 * announced by CPUID 8000_0001h ECX bit 23 (event 76h: cycles not halted). No emulator here has
 * a PMU, so only a real CPU runs this (docs/nmi.md, "Limits"). */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/perf_counter.h>

#define INTEL_GLOBAL_CTRL 0x38f /* from version 2: each counter's enable bit */
#define INTEL_GLOBAL_OVF_CLEAR 0x390
#define AMD_CORE_COUNTERS (1u << 23)
#define SELECT_USER_KERNEL_INTERRUPT_ENABLE (1u << 16 | 1u << 17 | 1u << 20 | 1u << 22)

/* IA32_PERFEVTSEL0 and IA32_PMC0, whose writes set only bits 31:0 (the CPU sign-extends bit 31
 * to the counter's width, and the SDM allows no other write); AMD's PERF_CTL0 and PERF_CTR0 of
 * the extended core counters, 48 bits, all writable. */
static struct counter {
    uint32_t select, count, event;
    unsigned width, written_bits, intel_version; /* intel_version: 0 on AMD */
} pmc;
static uint64_t period;
static bool started;

/* This CPU's first counter into pmc; false if it has none we know. */
static bool perf_counter_find(void)
{
    uint32_t regs[4];
    cpuid(0, 0, regs);
    if (regs[0] >= 0xa) {
        cpuid(0xa, 0, regs);
        bool cycles_listed = (regs[0] >> 24) >= 1 && !(regs[1] & 1); /* EBX bit 0: not there */
        unsigned version = regs[0] & 0xff, bits = (regs[0] >> 16) & 0xff;
        if (version && (regs[0] >> 8 & 0xff) && cycles_listed && bits > 32) {
            pmc = (struct counter){0x186, 0xc1, 0x3c, bits, 32, version};
            return true;
        }
    }
    cpuid(0x80000000, 0, regs);
    if (regs[0] < 0x80000001)
        return false;
    cpuid(0x80000001, 0, regs);
    pmc = (struct counter){0xc0010200, 0xc0010201, 0x76, 48, 48, 0};
    return regs[2] & AMD_CORE_COUNTERS;
}

/* Loads the counter to overflow after the period and lets the APIC pass its overflow on. */
static void perf_counter_arm(void)
{
    wrmsr(pmc.count, -period & ((1UL << pmc.written_bits) - 1));
    if (pmc.intel_version >= 2)
        wrmsr(INTEL_GLOBAL_OVF_CLEAR, 1);
    apic_lvt_nmi(APIC_NMI_PERF_COUNTER, true); /* the APIC masks the entry each time it delivers */
}

bool perf_counter_start(uint64_t period_cycles)
{
    if (period_cycles == 0 || period_cycles >= 1UL << 31 || (!started && !perf_counter_find()))
        return false;
    wrmsr(pmc.select, 0); /* stopped while its period changes */
    period = period_cycles;
    perf_counter_arm();
    if (pmc.intel_version >= 2)
        wrmsr(INTEL_GLOBAL_CTRL, rdmsr(INTEL_GLOBAL_CTRL) | 1);
    wrmsr(pmc.select, pmc.event | SELECT_USER_KERNEL_INTERRUPT_ENABLE);
    started = true;
    return true;
}

/* The counter counts up from -period: its top bit clears only when it has overflowed. */
bool perf_counter_overflowed(void)
{
    if (!started || rdmsr(pmc.count) & 1UL << (pmc.width - 1))
        return false;
    perf_counter_arm();
    return true;
}

void perf_counter_stop(void)
{
    if (!started) /* never touch the MSRs of a counter this CPU may not have */
        return;
    started = false;
    wrmsr(pmc.select, 0);
    apic_lvt_nmi(APIC_NMI_PERF_COUNTER, false);
}
