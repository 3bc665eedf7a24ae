/* kprobes: a breakpoint on the first instruction of a kernel function, with a handler that runs
 * before the function does. */
#pragma once
#include <stdint.h>
#include <arch/x86_64/sections.h> /* NOKPROBE */
#include <arch/x86_64/trap_frame.h>

struct kprobe {
    const char *symbol;                                                /* the function to probe */
    void (*pre_handler)(struct kprobe *probe, struct trap_frame *frame); /* may be NULL */
    uint64_t hits;
    /* filled in by register_kprobe */
    uint64_t address;
    const uint8_t *trampoline; /* the displaced instruction, then a jump back into the function */
};

/* 0, or -1 with a one-line reason printed (no such function, or one nmilab cannot probe). */
int register_kprobe(struct kprobe *probe);
void unregister_kprobe(struct kprobe *probe);
