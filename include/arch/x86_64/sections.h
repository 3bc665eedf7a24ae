/* Markers that put code in a section of its own, and the bounds linker.ld gives that section.
 * They live with the arch because the linker script that lays the sections out does: arch code
 * marks itself (the trap, #PF and int3 paths) without knowing which kernel feature reads the
 * marks (kprobes, kernel/kprobes.c). */
#pragma once

/* Code that a kprobe must not touch: what runs between an int3 and the probe's handler (the
 * breakpoint and trap dispatch, kprobes itself), the page-fault path, and the NMI entry. An int3
 * there would recurse until the stack is gone. The linker gathers it between noprobe_start and
 * noprobe_end (linker.ld); register_kprobe refuses anything in between. */
#define NOKPROBE __attribute__((section(".text.noprobe")))
extern char noprobe_start[], noprobe_end[];
