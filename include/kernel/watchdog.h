/* The NMI watchdog: a hard-lockup detector. An NMI source fires several times a second whatever
 * the CPU is doing; if the timer tick (an ordinary interrupt) has not advanced for the threshold,
 * interrupts have been off that long: the CPU is locked up. Then it prints the report and
 * show_state(). */
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
