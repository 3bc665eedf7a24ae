/* The NMI watchdog. Its NMI source, in order of preference:
 *   - Intel architectural performance monitoring (CPUID leaf 0xA): counter 0 counts unhalted core
 *     cycles from -period up; the overflow raises the local APIC's performance-counter LVT entry,
 *     set to NMI delivery. Each overflow is re-armed, and the LVT entry unmasked again (some CPUs
 *     mask it when they deliver).
 *   - AMD's PerfCtr0, the same way with AMD's MSRs and event.
 *   - No usable PMU (QEMU under TCG has none): the PIT on IRQ 0 of the 8259 PIC, whose output goes
 *     to LINT0, set to NMI delivery: it fires with interrupts off too, as Linux's old IO-APIC
 *     watchdog did. The NMI handler polls the PIC, which also acknowledges the interrupt.
 *   - The PIT on its I/O APIC pin in NMI delivery mode, for boards (and Bochs) where the 8259 is
 *     not wired to LINT0. No register says "this NMI was mine" there: the PIT's own count does,
 *     read just after it wrapped.
 * With several CPUs, the sources above watch CPU 0 only, so each CPU's timer tick
 * watches the next CPU's tick count instead (the buddy detector): a CPU whose count has not moved
 * for the threshold gets an NMI from its buddy, and reports itself from that NMI.
 * A source is used only once it has delivered: it is programmed fast, and the CPU waits, with
 * interrupts off and for a bounded time, for its first two NMIs. A source that is merely
 * programmed may not be wired to anything; an NMI that is assumed to be its own is a false
 * lockup report.
 *
 * A lockup is decided on elapsed time (TSC) since the timer tick last moved, counted only at this
 * source's own NMIs: other NMIs (a storm of external ones, the self-NMIs of a test) do not make
 * it come sooner. */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/nmi_stack.h>
#include <arch/x86_64/pic.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/timer.h>
#include <kernel/cmdline.h>
#include <kernel/cpu_backtrace.h>
#include <kernel/nmi.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <kernel/string.h>
#include <kernel/task.h>
#include <kernel/watchdog.h>

#define MSR_PERFEVTSEL0 0x186
#define MSR_PMC0 0xc1
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
#define CHECKS_PER_SECOND 20 /* a check every 50 ms (the PIT cannot go below 18.2 Hz) */
#define PROBE_CHECKS_PER_SECOND 1000
#define PROBE_NMIS 2
#define PROBE_MILLISECONDS 100

enum source { SOURCE_NONE, SOURCE_INTEL_PMU, SOURCE_AMD_PMU, SOURCE_PIT_LINT0, SOURCE_PIT_IOAPIC, SOURCES, SOURCE_BUDDY };
static const char *const source_names[] = {
    [SOURCE_NONE] = "none",
    [SOURCE_INTEL_PMU] = "Intel performance counter 0 (unhalted cycles)",
    [SOURCE_AMD_PMU] = "AMD PerfCtr0 (cycles not halted)",
    [SOURCE_PIT_LINT0] = "PIT IRQ 0 through the 8259 PIC on LINT0 (no usable PMU)",
    [SOURCE_PIT_IOAPIC] = "PIT on its I/O APIC pin in NMI mode (no usable PMU, no PIC on LINT0)",
    [SOURCE_BUDDY] = "buddy: each CPU's timer tick checks the next CPU's",
};

static enum source source;     /* programmed; its NMIs are claimed */
static bool verified;          /* it has delivered: its NMIs are checks (else probe NMIs) */
static unsigned checks_per_second, counter_width, intel_version;
static unsigned threshold;     /* seconds */
static volatile uint64_t probe_nmis;
static uint64_t last_ticks, last_progress_tsc, last_claim_tsc;
static bool reported;          /* this lockup has been reported; cleared when the tick moves */
static struct {                /* SOURCE_BUDDY: what CPU n's buddy last saw of CPU n's tick */
    uint64_t ticks, progress_tsc;
    bool reported;
} buddy_view[CPUS_MAX];
volatile uint64_t watchdog_nmis;
void (*watchdog_after_report)(int tasks_dumped, uint64_t nested_during_dump);

bool watchdog_running(void) { return source != SOURCE_NONE && verified; }
const char *watchdog_source(void) { return source_names[source]; }

static uint32_t counter_msr(enum source pmu) { return pmu == SOURCE_AMD_PMU ? MSR_AMD_PERFCTR0 : MSR_PMC0; }

static void pmu_arm(void)
{
    uint64_t period = tsc_khz * 1000 / checks_per_second; /* cycles, roughly, at the TSC rate */
    wrmsr_nofault(counter_msr(source), -period & ((1UL << counter_width) - 1));
    if (source == SOURCE_INTEL_PMU && intel_version >= 2)
        wrmsr_nofault(MSR_PERF_GLOBAL_OVF_CTRL, 1);
    apic_lvt_nmi(APIC_LVT_PERFORMANCE, true);
}

/* Program counter 0 of this PMU to interrupt, once it is seen counting. */
static bool pmu_program(enum source pmu)
{
    uint32_t select = pmu == SOURCE_AMD_PMU ? MSR_AMD_PERFEVTSEL0 : MSR_PERFEVTSEL0;
    uint32_t event = pmu == SOURCE_AMD_PMU ? AMD_CPU_CLOCKS_NOT_HALTED : INTEL_UNHALTED_CORE_CYCLES;
    uint64_t before = 0, after = 0;
    if (wrmsr_nofault(select, 0) || wrmsr_nofault(counter_msr(pmu), 0))
        return false;
    if (pmu == SOURCE_INTEL_PMU && intel_version >= 2 && wrmsr_nofault(MSR_PERF_GLOBAL_CTRL, 1))
        return false;
    wrmsr_nofault(select, event | EVENT_USER | EVENT_KERNEL | EVENT_ENABLE);
    rdmsr_nofault(counter_msr(pmu), &before);
    udelay(100);
    rdmsr_nofault(counter_msr(pmu), &after);
    if (after == before) {
        wrmsr_nofault(select, 0);
        return false;
    }
    source = pmu; /* only now: an NMI claimed by a counter that does not count would be a false report */
    pmu_arm();
    wrmsr_nofault(select, event | EVENT_USER | EVENT_KERNEL | EVENT_INTERRUPT | EVENT_ENABLE);
    return true;
}

static enum source this_cpus_pmu(void)
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
            return SOURCE_INTEL_PMU;
    } else if (!memcmp(vendor, "AuthenticAMD", 12)) {
        counter_width = 48;
        return SOURCE_AMD_PMU;
    }
    return SOURCE_NONE;
}

static bool program(enum source candidate)
{
    switch (candidate) {
    case SOURCE_INTEL_PMU:
    case SOURCE_AMD_PMU:
        return this_cpus_pmu() == candidate && pmu_program(candidate);
    case SOURCE_PIT_LINT0:
        source = candidate;
        pit_start_periodic(checks_per_second);
        apic_lvt_nmi(APIC_LVT_LINT0_PIN, true); /* first: until now LINT0 delivered the PIC as interrupts */
        pic_unmask_timer();
        return true;
    case SOURCE_PIT_IOAPIC:
        source = candidate;
        pit_start_periodic(checks_per_second);
        if (ioapic_route_pit_nmi(true))
            return true;
        source = SOURCE_NONE;
        return false;
    default:
        return false;
    }
}

static void unprogram(void)
{
    if (source == SOURCE_INTEL_PMU || source == SOURCE_AMD_PMU) {
        apic_lvt_nmi(APIC_LVT_PERFORMANCE, false);
        wrmsr_nofault(source == SOURCE_AMD_PMU ? MSR_AMD_PERFEVTSEL0 : MSR_PERFEVTSEL0, 0);
    } else if (source == SOURCE_PIT_LINT0) {
        pic_mask_timer();
        apic_lvt_nmi(APIC_LVT_LINT0_PIN, false);
    } else if (source == SOURCE_PIT_IOAPIC) {
        ioapic_route_pit_nmi(false);
    }
    source = SOURCE_NONE;
    verified = false;
}

/* Did the PIT just wrap? In mode 2 it counts down from the reload value and interrupts as it
 * reloads: an NMI it caused finds the count in the first quarter of a period (and at most one
 * per period is taken). */
static bool pit_just_wrapped(void)
{
    uint32_t reload = pit_reload();
    uint64_t period_tsc = tsc_khz * 1000 / checks_per_second;
    return pit_count() > reload - reload / 4 && rdtsc() - last_claim_tsc > period_tsc / 2;
}

/* Was this NMI the watchdog's? Re-arms the source when it was. */
enum claim { NOT_MINE, ECHO, MINE };
static enum claim claim(void)
{
    uint64_t value = 0;
    switch (source) {
    case SOURCE_PIT_LINT0:
        /* The PIC's output can reach LINT0 twice for one timer interrupt (QEMU's 8259 signals
         * again when the PIT's line falls, before the first NMI has acknowledged it), and the
         * second NMI then finds nothing pending. One that finds nothing within a millisecond of
         * one that did is that echo: claimed (it is not unknown), but not a check. */
        if (pic_take_timer_interrupt())
            break;
        return rdtsc() - last_claim_tsc < tsc_khz ? ECHO : NOT_MINE;
    case SOURCE_PIT_IOAPIC:
        if (pit_just_wrapped())
            break;
        return NOT_MINE;
    case SOURCE_INTEL_PMU:
    case SOURCE_AMD_PMU:
        if (rdmsr_nofault(counter_msr(source), &value) || ((value >> (counter_width - 1)) & 1))
            return NOT_MINE; /* still negative: it has not counted up past zero */
        pmu_arm();
        break;
    case SOURCE_BUDDY:
        return __atomic_exchange_n(&this_cpu()->lockup_reported_by, 0, __ATOMIC_SEQ_CST) ? MINE : NOT_MINE;
    default:
        return NOT_MINE;
    }
    last_claim_tsc = rdtsc();
    return MINE;
}

static void lockup_report(struct trap_frame *frame)
{
    struct cpu *cpu = this_cpu();
    printk("hard LOCKUP on CPU %d: the timer tick has not advanced for %u s (interrupts off?)", cpu->index, threshold);
    if (source == SOURCE_BUDDY)
        printk("; seen by CPU %d", (cpu->index + cpu_count - 1) % cpu_count);
    printk("\n");
    nmi_show_interrupted(frame);
    uint64_t nested_before = nmi_this_cpu()->nested;
    int dumped = show_state();
    if (cpu_count > 1)
        backtrace_all_cpus();
    uint64_t nested = nmi_this_cpu()->nested - nested_before;
    printk("watchdog: %lu NMIs arrived nested during the dump\n", nested);
    if (watchdog_after_report)
        watchdog_after_report(dumped, nested);
}

/* From every CPU's timer tick: is the next CPU's tick still moving? */
void watchdog_buddy_check(void)
{
    int checked = (this_cpu()->index + 1) % cpu_count;
    if (source != SOURCE_BUDDY || checked == this_cpu()->index)
        return;
    uint64_t now = rdtsc(), ticks = cpus[checked].ticks;
    if (ticks != buddy_view[checked].ticks || !buddy_view[checked].progress_tsc) {
        buddy_view[checked].ticks = ticks;
        buddy_view[checked].progress_tsc = now;
        buddy_view[checked].reported = false;
    } else if (!buddy_view[checked].reported && now - buddy_view[checked].progress_tsc >= threshold * tsc_khz * 1000) {
        buddy_view[checked].reported = true; /* once per lockup */
        cpus[checked].lockup_reported_by = this_cpu()->index + 1;
        apic_send_nmi(cpus[checked].apic_id);
    }
}

static bool watchdog_nmi(struct trap_frame *frame)
{
    enum claim claimed = claim();
    if (claimed != MINE)
        return claimed == ECHO;
    if (!verified) {
        probe_nmis++;
        return true;
    }
    watchdog_nmis++;
    if (source == SOURCE_BUDDY) { /* the buddy has decided: this CPU is locked up */
        lockup_report(frame);
        return true;
    }
    uint64_t now = rdtsc();
    /* LAB 5 BEGIN: has the tick advanced? if not for the threshold, report the lockup (once per lockup) */
    if (timer_ticks != last_ticks) {
        last_ticks = timer_ticks;
        last_progress_tsc = now;
        reported = false; /* re-armed: the next lockup is reported too */
        return true;
    }
    if (reported || now - last_progress_tsc < threshold * tsc_khz * 1000)
        return true;
    reported = true; /* once: the dump itself takes long enough for more checks to fail */
    lockup_report(frame);
    /* LAB 5 STUB */
    //| (void)lockup_report, (void)now;
    /* LAB 5 END */
    return true;
}

/* Programs the candidate fast and waits, interrupts off, for its first NMIs. */
static bool probe(enum source candidate)
{
    checks_per_second = PROBE_CHECKS_PER_SECOND;
    probe_nmis = 0;
    uint64_t flags = read_rflags();
    interrupts_disable();
    bool delivered = false;
    if (program(candidate)) {
        uint64_t start = rdtsc();
        while (probe_nmis < PROBE_NMIS && rdtsc() - start < PROBE_MILLISECONDS * tsc_khz)
            cpu_relax();
        delivered = probe_nmis >= PROBE_NMIS;
        if (!delivered) {
            printk("watchdog: %s: programmed, but no NMI arrived in %d ms\n", source_names[candidate],
                   PROBE_MILLISECONDS);
            unprogram();
        }
    }
    if (delivered) { /* now at the checking rate; the first check starts the clock */
        checks_per_second = CHECKS_PER_SECOND;
        if (source == SOURCE_PIT_LINT0 || source == SOURCE_PIT_IOAPIC)
            pit_start_periodic(checks_per_second);
        last_ticks = timer_ticks;
        last_progress_tsc = rdtsc();
        reported = false;
        verified = true;
    }
    if (flags & RFLAGS_IF)
        interrupts_enable();
    return delivered;
}

bool watchdog_start(unsigned threshold_seconds)
{
    static bool registered;
    threshold = threshold_seconds;
    if (!registered)
        registered = register_nmi_handler("watchdog", watchdog_nmi);
    if (!verified && cpu_count > 1) { /* one PMU (or PIT) would watch CPU 0 only */
        source = SOURCE_BUDDY; /* armed: the next ticks start each CPU's clock */
        memset(buddy_view, 0, sizeof buddy_view);
        verified = true;
    }
    if (!verified) {
        enum source candidate = SOURCE_INTEL_PMU;
        while (candidate < SOURCES && !probe(candidate))
            candidate++;
        if (candidate == SOURCES) {
            printk("watchdog: no NMI source on this machine; hard-lockup detection off\n");
            return false;
        }
    }
    last_ticks = timer_ticks;
    last_progress_tsc = rdtsc();
    reported = false;
    printk("watchdog: hard-lockup detector on, threshold %u s, NMI source: %s\n", threshold, source_names[source]);
    for (int i = 0; source == SOURCE_BUDDY && i < cpu_count; i++)
        printk("watchdog: CPU %d: checked by CPU %d's timer tick, an NMI from it when stuck\n", i,
               (i + cpu_count - 1) % cpu_count);
    return true;
}

void watchdog_stop(void)
{
    unprogram();
    printk("watchdog: off\n");
}

void watchdog_init(void)
{
    const char *value = cmdline_get(&kernel_cmdline, "watchdog");
    uint64_t seconds = 2;
    if (!value && cmdline_get(&kernel_cmdline, "test"))
        return; /* scenarios count NMIs exactly: no watchdog unless asked for */
    if (value && !strcmp(value, "off"))
        return;
    if (value && (parse_number(value, 60, &seconds) || seconds < 1)) {
        printk("watchdog: bad value '%s' (use watchdog=off or a number of seconds from 1 to 60); using 2\n", value);
        seconds = 2;
    }
    if (!apic_ready()) {
        printk("watchdog: no local APIC, so no NMI source: the watchdog is off\n");
        return;
    }
    watchdog_start((unsigned)seconds);
}
