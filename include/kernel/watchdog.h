/* The NMI watchdog: a hard-lockup detector. If the timer tick has not advanced for the threshold
 * between its NMIs, it reports the CPU locked up and runs show_state() (docs/stories.md, 1). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

void watchdog_init(void); /* watchdog=off|N from the command line (default 2 s; off under test=) */
bool watchdog_start(unsigned threshold_seconds);
void watchdog_stop(void);
void watchdog_buddy_check(void); /* from each CPU's timer tick */
bool watchdog_running(void);
const char *watchdog_source(void);
extern volatile uint64_t watchdog_nmis;
