/* Time: the TSC and the local APIC timer, both measured against the PIT (or, where it does not
 * count, another reference clock) at boot. The APIC timer then ticks at TIMER_HZ; each tick may
 * switch tasks. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define TIMER_HZ 100
#define PIT_HZ 1193182

void timer_init(void);
void timer_start_this_cpu(void); /* the tick on a CPU started later (smp.c) */
extern volatile uint64_t timer_cpu_ticks[]; /* each CPU's own ticks, by its index (smp.h) */
/* The kernel's clock, read-only (a value, not the variable): CPU 0's ticks; stop while its IF=0 */
#define timer_ticks ((uint64_t)timer_cpu_ticks[0])
/* What each CPU's tick runs after its EOI (the kernel's one hook, set before timer_init). It may
 * switch tasks: the tick comes back from it only when this task runs again. */
typedef void (*timer_tick_hook)(void);
void timer_register_tick_hook(timer_tick_hook hook);
extern bool timer_ticking; /* false where no clock could measure the APIC timer */
extern uint64_t tsc_khz;              /* TSC ticks per millisecond */
void udelay(uint64_t microseconds);
static inline uint64_t rdtsc(void)
{
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t)high << 32 | low;
}
/* The PIT's channel 0 (IRQ 0) as a rate generator at hz (the watchdog's NMI source on one CPU). */
void pit_start_periodic(unsigned hz);
extern uint16_t pit_reload; /* channel 0 counts down from it (set by pit_start_periodic) */
uint16_t pit_count(unsigned channel); /* a channel's count, counting down (0 or 2) */

/* Clocks of known rate the TSC and the APIC timer are measured against (reference_clocks.c). */
struct reference_clock {
    const char *name;       /* for the boot log: "measured against <name>" */
    uint64_t hz;
    uint64_t mask;          /* the counter's width: it wraps from mask to 0 */
    uint64_t (*read)(void); /* counts up */
};

/* In the order to try them, 0-terminated: each fills in *clock and says whether this machine
 * claims to have that clock; a claimed one may still not count, which only calibration sees. */
extern bool (*const reference_clocks[])(struct reference_clock *clock);
