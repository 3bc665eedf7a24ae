/* The top of the NMI IST stack, as the nested-NMI entry (nmi_entry.asm) lays it out, and each
 * CPU's NMI state that sits right above it. Declared here once, next to the code that writes
 * them; the assembler gets the offsets through asm_offsets.c, C reads them through kernel/nmi.h
 * (sizes the entry relies on: tests/kernel/kernel_state.h). */
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

/* How a nested NMI was recognised (nmi_cpu_state.nested_rule: 0 until one is). */
enum nmi_nested_rule {
    NESTED_IN_REPEAT_WINDOW = 1, /* landed between repeat_nmi and end_repeat_nmi */
    NESTED_EXECUTING = 2,        /* "NMI executing" was set */
    NESTED_IRET_WINDOW = 3,      /* on the NMI stack with DF set: flag cleared, iretq not yet run */
    NESTED_LATCHED = 4,          /* the latch strategy's state machine */
};

/* Each CPU's NMI state and counters, right above the top of its NMI IST stack: the entry finds
 * them from RSP (nmi_entry.asm), C through nmi_this_cpu(). The assembler updates some fields. */
#define NAIVE_DEPTH_MAX 8
struct nmi_cpu_state {
    uint64_t entries;         /* NMIs the CPU delivered: every entry into an NMI entry point */
    uint64_t nested;          /* entries recognised as nested */
    uint64_t passes;          /* runs of the handler chain; passes - (entries - nested) are extra */
    uint64_t unknown;         /* passes that no handler claimed */
    uint64_t latch_state;     /* NMI_LATCH only: not running / executing / latched */
    uint64_t nested_rule;     /* enum nmi_nested_rule, for the last nested NMI */
    uint64_t nested_rip;      /* where the last nested NMI landed (its interrupted RIP and RSP) */
    uint64_t nested_rsp;
    uint64_t interrupted_rip; /* where the last outer NMI landed */
    uint64_t in_handler;      /* 1 while the C handler chain runs */
    uint64_t naive_depth;     /* NMI_NAIVE: NMIs running, and a copy of each one's arrival frame */
    struct iret_frame naive_arrival[NAIVE_DEPTH_MAX];
    uint64_t ret_running;     /* nmi=ret's NMI handler runs (set and cleared by nmi_entry_ret) */
};
