/* Clocks of known rate that the TSC and the APIC timer are measured against at boot: the PIT, and
 * where it does not count, the others (reference_clocks.c says which and why in that order). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct reference_clock {
    const char *name;       /* for the boot log: "measured against <name>" */
    uint64_t hz;
    uint64_t mask;          /* the counter's width: it wraps from mask to 0 */
    uint64_t (*read)(void); /* counts up */
};

/* In the order to try them, each fills in *clock and says whether this machine claims to have that
 * clock; a claimed clock may still not count, which only calibration sees. */
#define REFERENCE_CLOCKS 4
extern bool (*const reference_clocks[REFERENCE_CLOCKS])(struct reference_clock *clock);
