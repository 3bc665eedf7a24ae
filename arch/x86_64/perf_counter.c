/* A performance counter as the watchdog's NMI source, as Linux's hard-lockup detector uses: it
 * counts this CPU's unhalted cycles up from minus a period, and its overflow raises an NMI
 * through the local APIC's performance-counter entry. Intel describes its counters in CPUID leaf
 * 0Ah (architectural performance monitoring, event 3Ch: core cycles); AMD's core counters are
 * announced by CPUID 8000_0001h ECX bit 23 (event 76h: cycles not halted). No emulator here has
 * a PMU, so only a real CPU runs this (docs/nmi.md, "Limits"). */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/perf_counter.h>

#define AMD_CORE_COUNTERS (1u << 23)
#define AMD_PERFMON_V2 (1u << 0) /* CPUID 8000_0022h EAX: global control, as Intel's version 2 */
#define SELECT_USER_KERNEL_INTERRUPT_ENABLE (1u << 16 | 1u << 17 | 1u << 20 | 1u << 22)

/* IA32_PERFEVTSEL0 and IA32_PMC0, whose writes set only bits 31:0 (the CPU sign-extends bit 31;
 * the SDM allows no other write); AMD's PERF_CTL0 and PERF_CTR0, 48 bits, all writable. From
 * Intel's version 2 and AMD's PerfMonV2 a counter counts only while a global control MSR enables
 * it (firmware may have cleared it), and its overflow is cleared through a second; else 0. */
static struct counter {
    uint32_t select, count, event;
    unsigned width, written_bits;
    uint32_t global_control, overflow_clear;
} pmc;
static uint64_t period;
static bool started;

/* This CPU's first counter into pmc; false if it has none we know, or if the counter does not
 * keep a value written to it (a hypervisor may list a PMU in CPUID, yet fault or drop writes). */
static bool perf_counter_find(void)
{
    uint32_t regs[4], leaf_a[4] = {0};
    cpuid(0, 0, regs);
    if (regs[0] >= 0xa)
        cpuid(0xa, 0, leaf_a);
    unsigned version = leaf_a[0] & 0xff, bits = (leaf_a[0] >> 16) & 0xff;
    bool cycles_listed = (leaf_a[0] >> 24) >= 1 && !(leaf_a[1] & 1); /* EBX bit 0: not there */
    bool global = version >= 2;
    pmc = (struct counter){0x186, 0xc1, 0x3c, bits, 32, 0x38f, 0x390};
    if (!version || !(leaf_a[0] >> 8 & 0xff) || !cycles_listed || bits <= 32) { /* not Intel's */
        cpuid(0x80000000, 0, regs);
        uint32_t extended_max = regs[0];
        cpuid(0x80000001, 0, regs); /* a leaf past extended_max answers with another's values */
        if (extended_max < 0x80000001 || !(regs[2] & AMD_CORE_COUNTERS))
            return false;
        cpuid(0x80000022, 0, regs);
        global = extended_max >= 0x80000022 && (regs[0] & AMD_PERFMON_V2);
        pmc = (struct counter){0xc0010200, 0xc0010201, 0x76, 48, 48, 0xc0000301, 0xc0000302};
    }
    if (!global)
        pmc.global_control = pmc.overflow_clear = 0;
    return msr_write_kept(pmc.count, 0xabcd);
}

/* Loads the counter to overflow after the period and lets the APIC pass its overflow on. */
static void perf_counter_arm(void)
{
    wrmsr(pmc.count, -period & ((1UL << pmc.written_bits) - 1));
    if (pmc.overflow_clear)
        wrmsr(pmc.overflow_clear, 1);
    apic_lvt_nmi(APIC_NMI_PERF_COUNTER, true); /* the APIC masks the entry each time it delivers */
}

bool perf_counter_start(uint64_t period_cycles)
{
    if (period_cycles == 0 || period_cycles >= 1UL << 31 || (!started && !perf_counter_find()))
        return false;
    wrmsr(pmc.select, 0); /* stopped while its period changes */
    period = period_cycles;
    perf_counter_arm();
    if (pmc.global_control)
        wrmsr(pmc.global_control, rdmsr(pmc.global_control) | 1);
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
