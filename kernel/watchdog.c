/* The NMI watchdog. Its NMI source, in order of preference:
 *   - Intel architectural performance monitoring (CPUID leaf 0xA): counter 0 counts unhalted core
 *     cycles from -period up; the overflow raises the local APIC's performance-counter LVT entry,
 *     set to NMI delivery. Each overflow is re-armed, and the LVT entry unmasked again (some CPUs
 *     mask it when they deliver).
 *   - AMD's PerfCtr0, the same way with AMD's MSRs and event.
 *   - No usable PMU (QEMU under TCG has none): the PIT at 20 Hz on IRQ 0 of the 8259 PIC, whose
 *     output goes to LINT0, set to NMI delivery: it fires with interrupts off too, as Linux's old
 *     IO-APIC watchdog did. The NMI handler polls the PIC, which also acknowledges the interrupt.
 * Each source is tried by programming it and checking that its counter moves. */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/nmi_stack.h>
#include <arch/x86_64/pic.h>
#include <arch/x86_64/timer.h>
#include <kernel/cmdline.h>
#include <kernel/nmi.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <kernel/string.h>
#include <kernel/task.h>
#include <kernel/watchdog.h>

#define MSR_PERFEVTSEL0 0x186
#define MSR_PMC0 0xc1
#define MSR_PERF_GLOBAL_STATUS 0x38e
#define MSR_PERF_GLOBAL_CTRL 0x38f
#define MSR_PERF_GLOBAL_OVF_CTRL 0x390
#define MSR_AMD_PERFEVTSEL0 0xc0010000
#define MSR_AMD_PERFCTR0 0xc0010004
#define EVENT_USER (1u << 16)
#define EVENT_KERNEL (1u << 17)
#define EVENT_INTERRUPT (1u << 20)
#define EVENT_ENABLE (1u << 22)
#define INTEL_UNHALTED_CORE_CYCLES 0x3c
#define AMD_CPU_CLOCKS_NOT_HALTED 0x76
#define PMU_CHECKS_PER_SECOND 10
#define PIT_CHECKS_PER_SECOND 20
#define PIT_HZ 1193182

enum source { SOURCE_NONE, SOURCE_INTEL_PMU, SOURCE_AMD_PMU, SOURCE_PIT };
static const char *const source_names[] = {
    [SOURCE_NONE] = "none",
    [SOURCE_INTEL_PMU] = "Intel performance counter 0 (unhalted cycles)",
    [SOURCE_AMD_PMU] = "AMD PerfCtr0 (cycles not halted)",
    [SOURCE_PIT] = "PIT IRQ 0 through the 8259 PIC on LINT0 (no usable PMU)",
};

static enum source source;
static unsigned threshold, checks_per_second, counter_width, intel_version;
static uint64_t last_ticks, stalled_checks;
static bool reported;
volatile uint64_t watchdog_nmis;
void (*watchdog_after_report)(int tasks_dumped, uint64_t nested_during_dump);

bool watchdog_running(void) { return source != SOURCE_NONE; }
const char *watchdog_source(void) { return source_names[source]; }

static uint32_t counter_msr(void) { return source == SOURCE_AMD_PMU ? MSR_AMD_PERFCTR0 : MSR_PMC0; }

static void pmu_arm(void)
{
    uint64_t period = tsc_khz * 1000 / PMU_CHECKS_PER_SECOND; /* cycles, roughly, at the TSC rate */
    wrmsr_nofault(counter_msr(), -period & ((1UL << counter_width) - 1));
    if (source == SOURCE_INTEL_PMU && intel_version >= 2)
        wrmsr_nofault(MSR_PERF_GLOBAL_OVF_CTRL, 1);
    apic_lvt_nmi(APIC_LVT_PERFORMANCE, true);
}

/* Program counter 0 and check that it counts. */
static bool pmu_try(enum source candidate)
{
    uint32_t select = candidate == SOURCE_AMD_PMU ? MSR_AMD_PERFEVTSEL0 : MSR_PERFEVTSEL0;
    uint32_t event = candidate == SOURCE_AMD_PMU ? AMD_CPU_CLOCKS_NOT_HALTED : INTEL_UNHALTED_CORE_CYCLES;
    source = candidate;
    uint64_t before = 0, after = 0;
    if (wrmsr_nofault(select, 0) || wrmsr_nofault(counter_msr(), 0))
        goto unusable;
    if (candidate == SOURCE_INTEL_PMU && intel_version >= 2 && wrmsr_nofault(MSR_PERF_GLOBAL_CTRL, 1))
        goto unusable;
    wrmsr_nofault(select, event | EVENT_USER | EVENT_KERNEL | EVENT_ENABLE);
    rdmsr_nofault(counter_msr(), &before);
    udelay(100);
    rdmsr_nofault(counter_msr(), &after);
    if (after == before)
        goto unusable;
    pmu_arm();
    wrmsr_nofault(select, event | EVENT_USER | EVENT_KERNEL | EVENT_INTERRUPT | EVENT_ENABLE);
    checks_per_second = PMU_CHECKS_PER_SECOND;
    return true;
unusable:
    wrmsr_nofault(select, 0);
    source = SOURCE_NONE;
    return false;
}

static bool choose_pmu(void)
{
    uint32_t regs[4], vendor[3];
    cpuid(0, 0, regs);
    vendor[0] = regs[1], vendor[1] = regs[3], vendor[2] = regs[2];
    if (!memcmp(vendor, "GenuineIntel", 12) && regs[0] >= 0xa) {
        cpuid(0xa, 0, regs);
        intel_version = regs[0] & 0xff;
        counter_width = (regs[0] >> 16) & 0xff;
        bool cycles_event = ((regs[0] >> 24) & 0xff) >= 1 && !(regs[1] & 1);
        if (intel_version && ((regs[0] >> 8) & 0xff) && cycles_event && counter_width >= 32)
            return pmu_try(SOURCE_INTEL_PMU);
        return false;
    }
    if (!memcmp(vendor, "AuthenticAMD", 12)) {
        counter_width = 48;
        return pmu_try(SOURCE_AMD_PMU);
    }
    return false;
}

static bool counter_overflowed(void)
{
    uint64_t value = 0;
    if (rdmsr_nofault(counter_msr(), &value))
        return false;
    return !((value >> (counter_width - 1)) & 1); /* it counted up from negative past zero */
}

/* Was this NMI the watchdog's? Re-arms the source when it was.
 * The PIC's output can reach LINT0 twice for one timer interrupt (QEMU's 8259 signals again when
 * the PIT's line falls, before the first NMI has acknowledged it), and the second NMI then finds
 * nothing pending. An NMI that finds nothing within a millisecond of one that did is taken as
 * that echo, rather than reported as an unknown NMI. */
static uint64_t last_claim_tsc;

static bool claim(void)
{
    if (source == SOURCE_PIT) {
        if (pic_take_timer_interrupt()) {
            last_claim_tsc = rdtsc();
            return true;
        }
        return rdtsc() - last_claim_tsc < tsc_khz;
    }
    if (!counter_overflowed())
        return false;
    pmu_arm();
    return true;
}

static void lockup_report(struct trap_frame *frame)
{
    const struct iret_frame *at = nmi_interrupted_frame(frame);
    struct trap_frame interrupted = *frame;
    interrupted.rip = at->rip;
    interrupted.rsp = at->rsp;
    interrupted.rflags = at->rflags;
    printk("hard LOCKUP on CPU 0: the timer tick has not advanced for %u s (interrupts off?)\n", threshold);
    print_registers(&interrupted);
    backtrace_print(at->rip, frame->rbp);
    uint64_t nested_before = nmi_cpu.nested;
    int dumped = show_state();
    uint64_t nested = nmi_cpu.nested - nested_before;
    printk("watchdog: %lu NMIs arrived nested during the dump\n", nested);
    if (watchdog_after_report)
        watchdog_after_report(dumped, nested);
}

static bool watchdog_nmi(struct trap_frame *frame)
{
    if (source == SOURCE_NONE || !claim())
        return false;
    watchdog_nmis++;
    /* LAB 5 BEGIN: has the tick advanced? if not for the threshold, report the lockup (once) */
    if (timer_ticks != last_ticks) {
        last_ticks = timer_ticks;
        stalled_checks = 0;
        return true;
    }
    if (++stalled_checks < threshold * checks_per_second || reported)
        return true;
    reported = true; /* once: the dump itself takes long enough for more checks to fail */
    lockup_report(frame);
    /* LAB 5 STUB */
    //| (void)lockup_report;
    /* LAB 5 END */
    return true;
}

bool watchdog_start(unsigned threshold_seconds)
{
    static bool registered;
    threshold = threshold_seconds;
    reported = false;
    stalled_checks = 0;
    last_ticks = timer_ticks;
    if (!registered)
        registered = register_nmi_handler("watchdog", watchdog_nmi);
    if (source == SOURCE_NONE && !choose_pmu()) {
        outb(0x43, 0x34); /* PIT channel 0, low then high byte, mode 2 (rate generator) */
        outb(0x40, (PIT_HZ / PIT_CHECKS_PER_SECOND) & 0xff);
        outb(0x40, (PIT_HZ / PIT_CHECKS_PER_SECOND) >> 8);
        source = SOURCE_PIT;
        checks_per_second = PIT_CHECKS_PER_SECOND;
        apic_lvt_nmi(APIC_LVT_LINT0_PIN, true); /* first: until now LINT0 delivered the PIC as interrupts */
        pic_unmask_timer();
    }
    printk("watchdog: hard-lockup detector on, threshold %u s, NMI source: %s\n", threshold, source_names[source]);
    return true;
}

void watchdog_stop(void)
{
    if (source == SOURCE_PIT)
        apic_lvt_nmi(APIC_LVT_LINT0_PIN, false);
    else if (source != SOURCE_NONE)
        apic_lvt_nmi(APIC_LVT_PERFORMANCE, false);
    source = SOURCE_NONE;
    printk("watchdog: off\n");
}

void watchdog_init(void)
{
    const char *value = cmdline_get(&kernel_cmdline, "watchdog");
    unsigned seconds = 2;
    if (!value && cmdline_get(&kernel_cmdline, "test"))
        return; /* scenarios count NMIs exactly: no watchdog unless asked for */
    if (value && !strcmp(value, "off"))
        return;
    if (value) {
        unsigned parsed = 0;
        const char *p = value;
        while (*p >= '0' && *p <= '9' && parsed <= 60)
            parsed = parsed * 10 + (unsigned)(*p++ - '0');
        if (*p || parsed < 1 || parsed > 60)
            printk("watchdog: bad value '%s' (use watchdog=off or a number of seconds from 1 to 60); using 2\n", value);
        else
            seconds = parsed;
    }
    if (!apic_ready()) {
        printk("watchdog: no local APIC, so no NMI source: the watchdog is off\n");
        return;
    }
    watchdog_start(seconds);
}
