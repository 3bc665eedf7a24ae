/* The GRUB menu's demos (grub.cfg, "nmilab demos"): shell commands, explained on the screen and
 * left there, for a PC where nothing can be typed (README.md, on booting a real PC). */
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <kernel/shell.h>
#include <kernel/string.h>
#include <stdbool.h>

static const char RESTART[] =
    "To see another demo, restart the machine (reset button, or Ctrl-Alt-Del) and pick it "
    "in GRUB's menu, nmilab demos.";

struct demo {
    const char *name;
    const char *what;        /* the story, before anything runs */
    const char *commands[4]; /* shell commands, in order */
    bool nested_nmis;        /* the strategy matters: say what it does */
    bool never_ends;         /* it locks the machine up: say how to restart before, not after */
};

static const struct demo demos[] = {
    {"pf-in-nmi",
     "An NMI handler reads an unmapped address (copy_from_kernel_nofault)"
     " while a second NMI is pending.\n"
     "The page fault is fixed up,"
     " and its iretq ends NMI blocking in the middle of the first handler:\n"
     "the pending NMI comes in at once, on the NMI stack the first one is using.",
     {"trace on", "pf-in-nmi", "stats"}, true, false},
    {"int3-in-nmi",
     "The same with an int3 (a breakpoint hook) instead of a page fault: its iretq, too, ends NMI\n"
     "blocking inside the first handler.",
     {"trace on", "int3-in-nmi", "stats"}, true, false},
    {"watchdog-dump",
     "The hard-lockup watchdog: the CPU turns interrupts off and spins."
     " The watchdog's NMI notices that\n"
     "the timer tick has stopped and prints every task's backtrace;"
     " one task's frames lead into unmapped\n"
     "memory, the walk faults inside the NMI, and that fault's iretq lets further NMIs in."
     " With a slow\n"
     "console the dump takes long enough for several. This demo ends locked up, on purpose.",
     {"cast", "watchdog 1", "lockup"}, true, true},
    {"vmalloc",
     "vmalloc memory is mapped in the kernel's master page table only;"
     " a page table that lacks the\n"
     "mapping takes a page fault, which copies it in (a 'vmalloc fault'), as an NMI handler would.",
     {"vmalloc", "stats"}, false, false},
    {"kprobe",
     "A kprobe on nmi_dispatch: an int3 at the start of the NMI handler chain. Its iretq ends NMI\n"
     "blocking inside every NMI; three NMIs are sent, each hits the probe.",
     {"kprobe add nmi_dispatch", "nmi 3", "kprobe del nmi_dispatch", "stats"}, false, false},
};

/* What the nested NMI of a demo does under each strategy. */
static const char *const strategy_stories[] = {
    [NMI_NESTED] = "nmi=nested: the nested NMI sees 'NMI executing' (rule (b)),"
                   " points the first NMI's iret frame\n"
                   "at repeat_nmi and returns; the first NMI then runs its handler once more."
                   " Nothing is lost.",
    [NMI_LATCH] = "nmi=latch: no IST stack;"
                  " the nested NMI lands below the first on the same stack, leaves a\n"
                  "note (latched) and returns; the first NMI runs its handler once more.",
    [NMI_NAIVE] = "nmi=naive: the nested NMI writes its frame over the first one's,"
                  " on the same IST stack top.\n"
                  "The check on the way out reports it; the kernel panics (which is the point).",
    [NMI_NAIVE_RAW] = "nmi=naive-raw: the naive entry without its check:"
                      " the machine will hang, silently.",
    [NMI_RET] = "nmi=ret: the fault returns into the handler by popfq; ret, not iretq: NMIs stay\n"
                "blocked, and the pending NMI comes after the first one's own iretq. No nesting.",
};

void demo_run(const char *name)
{
    const struct demo *demo = NULL;
    for (unsigned i = 0; i < sizeof demos / sizeof demos[0]; i++)
        if (!strcmp(demos[i].name, name))
            demo = &demos[i];
    if (!demo) {
        printk("demo: no demo named '%s'"
               " (pf-in-nmi, int3-in-nmi, watchdog-dump, vmalloc, kprobe)\n", name);
        return;
    }
    printk("\n=== demo %s ===\n%s\n%s\n", demo->name, demo->what,
           demo->nested_nmis ? strategy_stories[nmi_current_strategy()] : "");
    if (demo->never_ends)
        printk("%s\n", RESTART);
    for (unsigned i = 0; i < 4 && demo->commands[i]; i++) {
        char line[40];
        format(line, sizeof line, "%s", demo->commands[i]);
        printk("\n--- %s\n", line);
        shell_execute(line);
    }
    printk("\n=== demo %s done ===\n%s\n", demo->name, RESTART);
}
