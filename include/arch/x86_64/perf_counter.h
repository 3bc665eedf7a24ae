/* A performance counter of this CPU's cycles as an NMI source (perf_counter.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* An NMI every period_cycles (below 2^31) of this CPU's; false if it has no counter we know. */
bool perf_counter_start(uint64_t period_cycles);
bool perf_counter_overflowed(void); /* was this NMI the counter's? if so, armed again */
void perf_counter_stop(void);
