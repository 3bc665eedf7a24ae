/* The C side of NMI handling, shared by the entry strategies in nmi_entry.asm. */
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
    NMI_RET,       /* IST stack; exceptions return into it without iretq: the 2010 patch */
};

static inline struct nmi_cpu_state *nmi_this_cpu(void) { return this_cpu()->nmi; }
/* The words at the top of this CPU's NMI stack, which ends where its NMI state begins. */
static inline struct nmi_stack *nmi_stack_top(void)
{
    return (struct nmi_stack *)nmi_this_cpu() - 1;
}

/* A handler returns true when the NMI was its own (it found its source asserting). */
typedef bool (*nmi_handler)(struct trap_frame *frame);
bool register_nmi_handler(const char *name, nmi_handler handler); /* name: a label, not kept */
void unregister_nmi_handler(nmi_handler handler);

void nmi_init(void); /* the strategy from nmi= on the command line */
bool nmi_set_strategy(enum nmi_strategy strategy);
enum nmi_strategy nmi_current_strategy(void);
const char *nmi_strategy_name(enum nmi_strategy strategy);
int nmi_strategy_named(const char *name); /* the strategy called name ("nested"), or -1 */
/* From an NMI handler: the registers and backtrace of what the NMI interrupted. */
void nmi_show_interrupted(const struct trap_frame *frame);
/* Passes of the handler that a nested NMI asked for. */
static inline uint64_t nmi_extra_passes(const struct nmi_cpu_state *s)
{
    return s->passes - (s->entries - s->nested);
}
