/* The kernel's two doors to the test scenarios that are linked into it (tests/kernel/): test=NAME
 * on the command line runs one, or every scenario a real PC can run for test=all (the GRUB menu's
 * self-test); a panic while one runs ends it as a failure. */
#pragma once

/* Runs the scenario NAME (TAP on serial), then powers the machine off; never returns. */
__attribute__((noreturn)) void scenario_run(const char *name);
/* Called by panic: a panic inside a scenario ends the run as a failure (does nothing otherwise). */
void scenario_abort(void);
