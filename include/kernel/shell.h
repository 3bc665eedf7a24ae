/* What the kernel runs once it has booted: the interactive shell, on serial and on the screen (PS/2
 * keyboard), with what it starts besides the NMI toolkit (the GRUB menu's demos, demo=NAME:
 * kernel/demo.c, and the stories' cast), or the test scenarios linked into it (tests/kernel/). */
#pragma once

__attribute__((noreturn)) void shell_run(void);
/* Runs one command line, as if typed (also used by the tests). */
void shell_execute(char *line);
/* Runs the demo: explanations and shell commands on the console (one line for an unknown name). */
void demo_run(const char *name);
/* The shell's `cast`: the tasks whose backtraces the watchdog's dump prints (kernel/cast.c says
 * which and why); returns once each has run and settled. */
void task_create_cast(void);
/* Runs the scenario NAME, or for test=all every scenario a real PC can run (the GRUB menu's
 * self-test): TAP on serial, then the machine powers off; never returns. */
__attribute__((noreturn)) void scenario_run(const char *name);
/* Called by panic: a panic inside a scenario ends the run as a failure (does nothing otherwise). */
void scenario_abort(void);
