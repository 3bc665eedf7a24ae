/* The interactive shell, on serial and on the screen (PS/2 keyboard). */
#pragma once

__attribute__((noreturn)) void shell_run(void);
/* Runs one command line, as if typed (also used by the tests). */
void shell_execute(char *line);
