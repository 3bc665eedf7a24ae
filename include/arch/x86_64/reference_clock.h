/* Clocks of known rate that the TSC and the APIC timer are measured against at boot. A PC has
 * had the PIT since 1981, but not every machine lets it count (Hyper-V's second generation, boards
 * that gate the 8254's clock); the HPET, the ACPI PM timer and the CPU's own statement of its TSC
 * rate (CPUID leaves 15h and 16h) stand in for it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct reference_clock {
    const char *name;       /* for the boot log: "measured against <name>" */
    uint64_t hz;
    uint64_t mask;          /* the counter's width: it wraps from mask to 0 */
    uint64_t (*read)(void); /* counts up */
};

/* Each fills in *clock and says whether this machine claims to have that clock; a claimed clock
 * may still not count, which only calibration sees. */
bool pit_channel2_clock(struct reference_clock *clock);
bool hpet_clock(struct reference_clock *clock);
bool pm_timer_clock(struct reference_clock *clock);
bool cpuid_tsc_clock(struct reference_clock *clock);
