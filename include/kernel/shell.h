/* The interactive shell, on serial and on the screen (PS/2 keyboard), and what it starts besides
 * the NMI toolkit: the GRUB menu's demos (demo=NAME: kernel/demo.c) and the stories' cast. */
#pragma once

__attribute__((noreturn)) void shell_run(void);
/* Runs one command line, as if typed (also used by the tests). */
void shell_execute(char *line);
/* Runs the demo: explanations and shell commands on the console (one line for an unknown name). */
void demo_run(const char *name);
/* The shell's `cast`: the tasks whose backtraces the watchdog's dump prints (kernel/cast.c says
 * which and why); returns once each has run and settled. */
void task_create_cast(void);
