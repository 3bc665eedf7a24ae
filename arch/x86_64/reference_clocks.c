/* The reference clocks (timer.h), each probed from what the machine says it has, in the order of
 * docs/nmi.md, "Limits": the PIT, which not every machine lets count (Hyper-V's second generation,
 * boards that gate the 8254's clock), the HPET, the ACPI PM timer, the TSC rate CPUID states. */
#include <arch/x86_64/acpi.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/timer.h>

#define HPET_CAPABILITIES 0x00   /* bits 63:32: the counter's period in femtoseconds */
#define HPET_COUNTER_64BIT (1u << 13)
#define HPET_CONFIG 0x10
#define HPET_ENABLE 1u
#define HPET_LEGACY_REPLACEMENT 2u
#define HPET_COUNTER 0xf0
#define PM_TIMER_HZ 3579545      /* ACPI specification, 4.8.3.3 */
#define FADT_PM_TIMER_PORT 76    /* PM_TMR_BLK: a 32-bit I/O port number */
#define FADT_FLAGS 112
#define FADT_PM_TIMER_32BIT (1u << 8) /* TMR_VAL_EXT: else the counter has 24 bits */
#define FADT_HARDWARE_REDUCED (1u << 20)

/* Channel 2 counts down from 0xffff (timer_init starts it); read as time going up. */
static uint64_t pit_channel2_read(void) { return (uint16_t)~pit_count(2); }

static bool pit_channel2_clock(struct reference_clock *clock)
{
    *clock = (struct reference_clock){"the PIT", PIT_HZ, 0xffff, pit_channel2_read};
    return true; /* a PC is expected to have one: only calibration can tell it does not */
}

static volatile uint64_t *hpet;

static uint64_t hpet_read(void) { return hpet[HPET_COUNTER / 8]; }

/* The ACPI HPET table gives its registers' address (a Generic Address Structure at offset 40,
 * whose 64-bit address is at 44, in memory space: 0 at 40). The main counter runs once the enable
 * bit is set; the legacy replacement bit is cleared, so the PIT and the RTC keep their IRQs. */
static bool hpet_clock(struct reference_clock *clock)
{
    const struct acpi_table_header *table = acpi_find_table("HPET");
    if (!table || table->length < 52 || ((const uint8_t *)table)[40] != 0)
        return false;
    uint64_t address = acpi_field(table, 44, 8);
    if (!address)
        return false;
    hpet = paging_map_device(address, 1024, true);
    uint64_t period_fs = hpet[HPET_CAPABILITIES / 8] >> 32;
    if (period_fs == 0 || period_fs > 100000000) /* the specification's limit: 100 ns */
        return false;
    hpet[HPET_CONFIG / 8] = (hpet[HPET_CONFIG / 8] | HPET_ENABLE) & ~HPET_LEGACY_REPLACEMENT;
    bool wide = hpet[HPET_CAPABILITIES / 8] & HPET_COUNTER_64BIT;
    *clock = (struct reference_clock){"the HPET", 1000000000000000UL / period_fs,
                                      wide ? ~0UL : 0xffffffffUL, hpet_read};
    return true;
}

static uint16_t pm_timer_port;

static uint64_t pm_timer_read(void)
{
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(pm_timer_port));
    return value;
}

/* The FADT ("FACP") gives the timer's I/O port; a 32-bit port number on the PCs we target. */
static bool pm_timer_clock(struct reference_clock *clock)
{
    const struct acpi_table_header *fadt = acpi_find_table("FACP");
    if (!fadt || fadt->length < FADT_FLAGS + 4)
        return false;
    uint64_t port = acpi_field(fadt, FADT_PM_TIMER_PORT, 4);
    uint64_t flags = acpi_field(fadt, FADT_FLAGS, 4);
    if (port == 0 || port > 0xffff || (flags & FADT_HARDWARE_REDUCED)) /* then it has none */
        return false;
    pm_timer_port = (uint16_t)port;
    bool wide = flags & FADT_PM_TIMER_32BIT;
    *clock = (struct reference_clock){"the ACPI PM timer", PM_TIMER_HZ,
                                      wide ? 0xffffffffUL : 0xffffffUL, pm_timer_read};
    return true;
}

static uint64_t tsc_read(void) { return rdtsc(); }

/* The TSC measured against itself, at the rate the CPU states. Leaf 15h gives it exactly: the
 * crystal's rate (ECX) times the TSC/crystal ratio (EBX/EAX), where all three are given. Else leaf
 * 16h's base frequency in MHz, which the TSC runs at on the processors that have the leaf: a last
 * resort, as the figure is rounded and is not promised to be the TSC's. */
static bool cpuid_tsc_clock(struct reference_clock *clock)
{
    uint32_t regs[4], highest;
    cpuid(0, 0, regs);
    highest = regs[0];
    uint64_t hz = 0;
    if (highest >= 0x15) {
        cpuid(0x15, 0, regs);
        if (regs[0] && regs[1] && regs[2])
            hz = (uint64_t)regs[2] * regs[1] / regs[0];
    }
    if (!hz && highest >= 0x16) {
        cpuid(0x16, 0, regs);
        hz = (uint64_t)(regs[0] & 0xffff) * 1000000;
    }
    *clock = (struct reference_clock){"the TSC rate CPUID states", hz, ~0UL, tsc_read};
    return hz != 0;
}

bool (*const reference_clocks[])(struct reference_clock *) = {
    pit_channel2_clock, hpet_clock, pm_timer_clock, cpuid_tsc_clock, 0,
};
