/* The watchdog's performance-counter source (arch/x86_64/perf_counter.c) against simulated CPUs:
 * no emulator here has a PMU, so this is where its probe and its counter handling are checked.
 * The simulation follows the SDM and AMD's APM strictly: an MSR the CPU lacks is a #GP (a test
 * failure, unless through msr_write_kept), a CPUID leaf past the highest answers with garbage,
 * an Intel counter takes only bits 31:0 and sign-extends them, the counter counts only while
 * enabled (on Intel version 2 and later and AMD's PerfMonV2, also in the global control MSR),
 * and its overflow raises an NMI only through an unmasked LVT entry, which Intel then masks. */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/perf_counter.h>
#include <stdbool.h>
#include "unit.h"

enum { EVTSEL0 = 0x186, PMC0 = 0xc1, GLOBAL_STATUS = 0x38e, GLOBAL_CTRL = 0x38f,
       GLOBAL_OVF_CTRL = 0x390, AMD_CTL0 = 0xc0010200, AMD_CTR0 = 0xc0010201,
       AMD_GLOBAL_STATUS = 0xc0000300, AMD_GLOBAL_CTL = 0xc0000301,
       AMD_GLOBAL_STATUS_CLR = 0xc0000302 };
#define SELECT_USER (1u << 16)
#define SELECT_KERNEL (1u << 17)
#define SELECT_ENABLE (1u << 22)
#define SELECT_INTERRUPT (1u << 20)

static struct {
    uint32_t leaf0_max, leaf_a[4], extended_max, extended1_ecx, extended22_eax;
    bool amd, global; /* global: Intel version 2 or later, or AMD's PerfMonV2 */
    enum { REAL, MSRS_FAULT, WRITES_DROPPED } hypervisor; /* what a PMU listed in CPUID does */
    uint64_t select, counter, global_ctrl, global_status;
    unsigned width;
    bool lvt_unmasked;
    int msr_accesses, nmis;
} cpu;

/* Intel version 1 to 4 with `width`-bit counters, or AMD with the extended core counters. */
static void intel(unsigned version, unsigned width, uint32_t ebx_unavailable)
{
    memset(&cpu, 0, sizeof cpu);
    cpu.leaf0_max = 0x16;
    cpu.leaf_a[0] = version | 4u << 8 | width << 16 | 7u << 24;
    cpu.leaf_a[1] = ebx_unavailable;
    cpu.extended_max = 0x80000008;
    cpu.width = width;
    cpu.global = version >= 2;
    cpu.global_ctrl = 0; /* firmware may leave the counters disabled: the probe must enable */
}
static void amd(bool core_counters, bool perfmon_v2)
{
    memset(&cpu, 0, sizeof cpu);
    cpu.leaf0_max = 0x10; /* leaf 0Ah reads as zeros on AMD */
    cpu.extended_max = perfmon_v2 ? 0x80000026 : 0x80000020;
    cpu.extended1_ecx = core_counters ? 1u << 23 : 0;
    cpu.extended22_eax = perfmon_v2;
    cpu.amd = true;
    cpu.global = perfmon_v2;
    cpu.width = 48;
}

void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
    (void)subleaf;
    bool extended = leaf >= 0x80000000;
    memset(regs, leaf > (extended ? cpu.extended_max : cpu.leaf0_max) ? 0xff : 0, 16);
    if (leaf == 0)
        regs[0] = cpu.leaf0_max;
    if (leaf == 0xa && leaf <= cpu.leaf0_max)
        memcpy(regs, cpu.leaf_a, 16);
    if (leaf == 0x80000000)
        regs[0] = cpu.extended_max;
    if (leaf == 0x80000001 && leaf <= cpu.extended_max)
        regs[2] = cpu.extended1_ecx;
    if (leaf == 0x80000022 && leaf <= cpu.extended_max)
        regs[0] = cpu.extended22_eax;
}

/* The MSR's storage, or 0: a #GP on the real CPU. */
static uint64_t *msr(uint32_t number)
{
    bool intel_counter = !cpu.amd && (cpu.leaf_a[0] & 0xff) >= 1;
    cpu.msr_accesses++;
    if (cpu.hypervisor == MSRS_FAULT)
        return 0;
    if ((number == EVTSEL0 && intel_counter) || (number == AMD_CTL0 && cpu.extended1_ecx))
        return &cpu.select;
    if ((number == PMC0 && intel_counter) || (number == AMD_CTR0 && cpu.extended1_ecx))
        return &cpu.counter;
    if (cpu.global && number == (cpu.amd ? AMD_GLOBAL_CTL : GLOBAL_CTRL))
        return &cpu.global_ctrl;
    if (cpu.global && number == (cpu.amd ? AMD_GLOBAL_STATUS : GLOBAL_STATUS))
        return &cpu.global_status;
    return 0;
}

static uint64_t *msr_or_fail(uint32_t number)
{
    uint64_t *stored = msr(number);
    if (!stored) {
        printf("# MSR %#x touched: this CPU has none (a #GP)\n", number);
        unit_failures++;
    }
    return stored;
}

uint64_t rdmsr(uint32_t number)
{
    uint64_t *value = msr_or_fail(number);
    return value && cpu.hypervisor != WRITES_DROPPED ? *value : 0;
}

/* The write that clears overflows (Intel's version 2 and later, AMD's PerfMonV2): no storage. */
static bool clears_overflows(uint32_t number)
{
    return cpu.global && number == (cpu.amd ? AMD_GLOBAL_STATUS_CLR : GLOBAL_OVF_CTRL);
}

static void write_to(uint64_t *stored, uint32_t number, uint64_t value)
{
    if (stored == &cpu.counter && !cpu.amd) {
        CHECK(value >> 32 == 0); /* the SDM: only bits 31:0 are written */
        value = (uint64_t)(int64_t)(int32_t)value & ((1UL << cpu.width) - 1);
    }
    if (clears_overflows(number))
        cpu.global_status &= ~value;
    else if (stored && cpu.hypervisor != WRITES_DROPPED)
        *stored = value;
}

void wrmsr(uint32_t number, uint64_t value)
{
    write_to(clears_overflows(number) ? 0 : msr_or_fail(number), number, value);
}

bool msr_write_kept(uint32_t number, uint64_t value)
{
    uint64_t *stored = msr(number);
    if (!stored)
        return false; /* the #GP, taken by the exception table */
    write_to(stored, number, value);
    return cpu.hypervisor != WRITES_DROPPED && *stored == value;
}

void apic_lvt_nmi(enum apic_nmi_entry entry, bool enabled)
{
    CHECK(entry == APIC_NMI_PERF_COUNTER);
    cpu.lvt_unmasked = enabled;
}

/* The CPU runs `cycles` unhalted cycles in ring 0 or 3; the counter counts them if it selects the
 * cycles event (unit mask 0) and that ring, and its overflow may raise an NMI. */
static void run_in(unsigned ring, uint64_t cycles)
{
    bool globally_on = !cpu.global || (cpu.global_ctrl & 1);
    uint32_t cycles_event = cpu.amd ? 0x76 : 0x3c;
    uint32_t ring_bit = ring == 0 ? SELECT_KERNEL : SELECT_USER;
    if (!(cpu.select & SELECT_ENABLE) || !globally_on || (cpu.select & 0xffff) != cycles_event ||
        !(cpu.select & ring_bit))
        return;
    uint64_t mask = (1UL << cpu.width) - 1, before = cpu.counter;
    cpu.counter = (cpu.counter + cycles) & mask;
    if (cpu.counter >= before) /* no wrap: no overflow */
        return;
    cpu.global_status |= 1;
    if ((cpu.select & SELECT_INTERRUPT) && cpu.lvt_unmasked) {
        cpu.nmis++;
        cpu.lvt_unmasked = cpu.amd; /* Intel masks the entry when it delivers */
    }
}

static void run(uint64_t cycles)
{
    run_in(3, cycles / 2); /* a lockup is in the kernel, but the period counts a program's too */
    run_in(0, cycles - cycles / 2);
}

/* NMIs arrive every period and are the counter's; an NMI between them is not. */
static void check_periods(uint64_t period)
{
    cpu.nmis = 0;
    for (int i = 1; i <= 3; i++) {
        run(period - 1);
        CHECK(cpu.nmis == i - 1);
        CHECK(!perf_counter_overflowed()); /* another NMI: not the counter's */
        run(1);
        CHECK(cpu.nmis == i);
        CHECK(perf_counter_overflowed());
        CHECK(cpu.lvt_unmasked);
        CHECK(!(cpu.global_status & 1) || !cpu.global); /* cleared for the next overflow */
    }
}

static void check_stops(void)
{
    perf_counter_stop();
    CHECK(!(cpu.select & SELECT_ENABLE) && !cpu.lvt_unmasked);
    int accesses = cpu.msr_accesses;
    run(1UL << 40);
    CHECK(!perf_counter_overflowed());
    perf_counter_stop();
    CHECK(cpu.msr_accesses == accesses); /* stopped: no MSR touched again */
}

static void check_declines(void)
{
    CHECK(!perf_counter_start(1000));
    CHECK(!perf_counter_overflowed());
    perf_counter_stop();
    CHECK(cpu.msr_accesses == 0);
}

static void test_intel_version_1(void)
{
    intel(1, 40, 0);
    CHECK(perf_counter_start(1000));
    CHECK(cpu.counter == (1UL << 40) - 1000);
    check_periods(1000);
    CHECK(perf_counter_start(5000)); /* a new period: the source check, then the checking rate */
    check_periods(5000);
    check_stops();
}

static void test_intel_version_4(void)
{
    intel(4, 48, 0);
    CHECK(perf_counter_start((1UL << 31) - 1));
    CHECK(cpu.global_ctrl & 1);
    check_periods((1UL << 31) - 1);
    check_stops();
}

static void test_amd_core_counters(void)
{
    amd(true, false);
    CHECK(perf_counter_start(123456));
    CHECK((cpu.select & 0xff) == 0x76 && cpu.counter == (1UL << 48) - 123456);
    check_periods(123456);
    check_stops();
    amd(true, true); /* PerfMonV2 (Zen 4), its global control cleared by firmware */
    CHECK(perf_counter_start(123456));
    CHECK(cpu.global_ctrl & 1);
    check_periods(123456);
    check_stops();
}

/* A hypervisor that lists a PMU in CPUID but faults its MSRs, or keeps none of what is written:
 * declined after the one probe, never a #GP outside it (a boot panic on the real machine). */
static void test_hypervisor_pmu_not_there(void)
{
    intel(2, 48, 0);
    cpu.hypervisor = MSRS_FAULT;
    CHECK(!perf_counter_start(1000) && cpu.msr_accesses == 1);
    perf_counter_stop();
    amd(true, false);
    cpu.hypervisor = MSRS_FAULT;
    CHECK(!perf_counter_start(1000) && cpu.msr_accesses == 1);
    intel(1, 40, 0);
    cpu.hypervisor = WRITES_DROPPED;
    CHECK(!perf_counter_start(1000));
    CHECK(!perf_counter_overflowed());
}

static void test_declines(void)
{
    intel(0, 0, 0); /* leaf 0Ah all zeros: a hypervisor hiding the PMU */
    cpu.leaf_a[0] = 0;
    check_declines();
    intel(0, 48, 0); /* version 0: no architectural performance monitoring, whatever else */
    check_declines();
    intel(2, 48, 1); /* EBX bit 0: the core-cycles event is not there */
    check_declines();
    intel(1, 32, 0); /* too narrow to tell an overflowed counter by its top bit */
    check_declines();
    intel(2, 48, 0);
    cpu.leaf_a[0] &= ~0xff00u; /* no general-purpose counter */
    check_declines();
    amd(false, false); /* an AMD CPU without the extended core counters */
    check_declines();
    intel(3, 48, 0);
    cpu.leaf0_max = 0x7; /* leaf 0Ah past the highest leaf */
    check_declines();
    intel(3, 48, 0);
    CHECK(!perf_counter_start(0) && !perf_counter_start(1UL << 31)); /* periods it cannot count */
    CHECK(cpu.msr_accesses == 0);
}

const struct unit_test perf_counter_tests[] = {
    {"perf_counter: Intel version 1 (no global control MSRs), 40-bit counters",
     test_intel_version_1},
    {"perf_counter: Intel version 4, enabled in GLOBAL_CTRL, the longest period",
     test_intel_version_4},
    {"perf_counter: AMD's extended core counters, without and with PerfMonV2",
     test_amd_core_counters},
    {"perf_counter: a hypervisor's PMU that faults or drops writes is declined",
     test_hypervisor_pmu_not_there},
    {"perf_counter: CPUs without a usable counter are declined, touching no MSR", test_declines},
    {0},
};
