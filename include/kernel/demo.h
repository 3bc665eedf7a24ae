/* The GRUB menu's demos (demo=NAME on the command line): kernel/demo.c. */
#pragma once
/* Runs the demo: explanations and shell commands on the console (one line for an unknown name). */
void demo_run(const char *name);
