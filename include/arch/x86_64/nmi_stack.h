/* The top of the NMI IST stack, as the nested-NMI entry (nmi_entry.asm) lays it out. Declared
 * here once; the assembler gets the offsets through asm_offsets.c. */
#pragma once
#include <stdint.h>

/* What the CPU pushes on an interrupt and iretq pops, lowest address first. */
struct iret_frame {
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Lowest address first; `hardware` ends exactly at the IST stack top. */
struct nmi_stack {
    /* The frame the last iretq of the NMI pops. Rebuilt from `outermost` before every pass of the
     * handler; a nested NMI points it at repeat_nmi to ask for one more pass. It is also the
     * rip..ss tail of the struct trap_frame that the C handler gets. */
    struct iret_frame iret;
    /* The first NMI's hardware frame, copied on arrival: where the interrupted code resumes.
     * Nothing writes it again until the NMI is completely over. */
    struct iret_frame outermost;
    /* "NMI executing": 1 from the first NMI's arrival until just before the final iretq. */
    uint64_t executing;
    /* Scratch for rdx: the entry needs a register before it knows whether it may save any. */
    uint64_t saved_rdx;
    /* Where the CPU writes the frame of every NMI, the nested ones too. */
    struct iret_frame hardware;
};
_Static_assert(sizeof(struct nmi_stack) == 17 * 8, "nmi_stack is 17 words");
_Static_assert(sizeof(struct nmi_stack) % 8 == 0 && (sizeof(struct nmi_stack) + 17 * 8) % 16 == 0,
               "with the 17 words of trap frame below it, the C call stays 16-byte aligned");
