/* The C side of NMI handling, shared by the three entry strategies in nmi_entry.asm. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <arch/x86_64/nmi_stack.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/trap_frame.h>

enum nmi_strategy {
    NMI_NESTED,    /* IST stack + the repeat-frame algorithm: the fix (default) */
    NMI_NAIVE,     /* IST stack, save, call, iretq: broken, with a check that reports the damage */
    NMI_NAIVE_RAW, /* the same without the check: what the hardware does on its own */
    NMI_LATCH,     /* no IST, the current stack, a C state machine: the i386 answer */
};

/* How a nested NMI was recognised (nmi_cpu.nested_rule). */
enum nmi_nested_rule {
    NESTED_NONE,
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
    uint64_t passes;          /* runs of the C handler chain; passes - (entries - nested) were extra */
    uint64_t unknown;         /* passes that no handler claimed */
    uint64_t latch_state;     /* NMI_LATCH only: not running / executing / latched */
    uint64_t nested_rule;     /* enum nmi_nested_rule, for the last nested NMI */
    uint64_t nested_rip;      /* where the last nested NMI landed (its interrupted RIP and RSP) */
    uint64_t nested_rsp;
    uint64_t interrupted_rip; /* where the last outer NMI landed */
    uint64_t in_handler;      /* 1 while the C handler chain runs */
    uint64_t naive_depth;     /* NMI_NAIVE: NMIs running, and a copy of each one's arrival frame */
    struct iret_frame naive_arrival[NAIVE_DEPTH_MAX];
    uint64_t padding;         /* to a multiple of 16 bytes: the stack top below stays aligned */
};
static inline struct nmi_cpu_state *nmi_this_cpu(void) { return this_cpu()->nmi; }

/* A handler returns true when the NMI was its own (it found its source asserting). */
typedef bool (*nmi_handler)(struct trap_frame *frame);
bool register_nmi_handler(const char *name, nmi_handler handler);
void unregister_nmi_handler(nmi_handler handler);

void nmi_init(void); /* the strategy from nmi= on the command line */
bool nmi_set_strategy(enum nmi_strategy strategy);
enum nmi_strategy nmi_current_strategy(void);
const char *nmi_strategy_name(enum nmi_strategy strategy);
int nmi_strategy_named(const char *name); /* the strategy called name ("nested"), or -1 */
/* Where the NMI being handled interrupted the kernel (for the nested strategy the trap frame's
 * own rip..ss may already have been pointed at repeat_nmi). */
const struct iret_frame *nmi_interrupted_frame(const struct trap_frame *frame);
/* Passes of the handler that a nested NMI asked for. */
static inline uint64_t nmi_extra_passes(const struct nmi_cpu_state *s) { return s->passes - (s->entries - s->nested); }

/* The C entry points, called from nmi_entry.asm. */
void nmi_nested_handle(struct trap_frame *frame);
void nmi_naive_handle(struct trap_frame *frame);
void nmi_latch_handle(struct trap_frame *frame);
void nmi_latch_entry(struct trap_frame *frame); /* counts the NMI, then nmi_latch_handle */
