/* What every CPU is doing: each one, stopped by an NMI, prints its registers and backtrace. */
#pragma once

void cpu_backtrace_init(void); /* registers the NMI handler that answers (after smp_init) */
/* This CPU's own backtrace, then an NMI to each other CPU and its report, one CPU at a time. A
 * CPU that has not answered within a second is named. Returns the number that answered. */
int backtrace_all_cpus(void);
