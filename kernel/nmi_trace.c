/* Recording the NMI stack words. The nested strategy's own steps happen in assembly, where
 * nothing can be printed, so the trace takes copies of struct nmi_stack where C can see them (at
 * the arrival, the nested NMI, the repeat and the exit of docs/nmi.md's "nmi=nested") and prints
 * them later, from the shell. tools/pictures.py draws the printed trace. */
#include <kernel/nmi.h>
#include <kernel/nmi_trace.h>
#include <kernel/printk.h>
#include <kernel/string.h>

#define STEPS_MAX 8

static struct {
    const char *step;
    struct nmi_stack words;
} steps[STEPS_MAX];
static int recorded;
static bool armed, complete;
extern char repeat_nmi[];

static void record(const char *step)
{
    if (recorded == STEPS_MAX)
        return;
    steps[recorded].step = step;
    steps[recorded].words = *nmi_stack_top();
    recorded++;
}

void nmi_trace_arm(bool on)
{
    armed = on;
    recorded = 0;
    complete = false;
}

void nmi_trace_pass_start(const struct trap_frame *frame)
{
    if (!armed || complete)
        return;
    const struct nmi_stack *top = nmi_stack_top();
    /* A nested NMI writes its frame over hardware; until then it is outermost's copy. */
    bool first_pass = !memcmp(&top->hardware, &top->outermost, sizeof top->outermost);
    if (first_pass)
        recorded = 0; /* a new episode: start over */
    record(first_pass ? "arrival" : "repeat");
}

void nmi_trace_pass_end(const struct trap_frame *frame)
{
    if (!armed || complete)
        return;
    if (frame->rip == (uint64_t)repeat_nmi) /* the iret frame: a nested NMI asked for a repeat */
        record("nested NMI, iret -> repeat_nmi");
    else if (recorded > 1)
        complete = true; /* the last pass of an episode with a nested NMI */
    else
        recorded = 0;    /* nothing nested: not the episode the trace waits for */
}

static void print_frame(const char *name, const struct iret_frame *f)
{
    printk("trace:   %-9s rip %016lx cs %02lx rflags %08lx rsp %016lx ss %02lx\n",
           name, f->rip, f->cs, f->rflags, f->rsp, f->ss);
}

bool nmi_trace_print(void)
{
    if (!armed || !complete)
        return false;
    record("exit");
    printk("trace: the NMI stack at %016lx, top first (repeat_nmi is %016lx)\n",
           (uint64_t)nmi_stack_top(), (uint64_t)repeat_nmi);
    for (int i = 0; i < recorded; i++) {
        const struct nmi_stack *w = &steps[i].words;
        printk("trace: step %d %s\n", i + 1, steps[i].step);
        print_frame("hardware", &w->hardware);
        printk("trace:   %-9s %016lx\n", "executing", w->executing);
        print_frame("outermost", &w->outermost);
        print_frame("iret", &w->iret);
    }
    printk("trace: end\n");
    nmi_trace_arm(false);
    return true;
}
