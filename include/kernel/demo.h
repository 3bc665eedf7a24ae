/* The GRUB menu's demos (demo=NAME on the command line): kernel/demo.c. */
#pragma once
#include <stdbool.h>

/* Runs the demo: explanations and shell commands on the console. False for an unknown name. */
bool demo_run(const char *name);
