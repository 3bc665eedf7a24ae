/* Markers that put code in a section of its own, and the bounds linker.ld gives it: with the arch,
 * as the linker script is, so arch code marks itself without knowing who reads the marks. */
#pragma once

/* Code that a kprobe must not touch (which, and why: docs/stories.md, "A kprobe in NMI code"),
 * gathered between noprobe_start and noprobe_end; register_kprobe refuses anything in between. */
#define NOKPROBE __attribute__((section(".text.noprobe")))
extern char noprobe_start[], noprobe_end[];
