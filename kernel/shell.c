/* The shell: a prompt, a line editor with backspace, and commands to poke at the NMI path. It
 * polls for input from the main task and sleeps a tick between polls, so the timer keeps ticking
 * (the watchdog would otherwise see a lockup). */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/keyboard.h>
#include <arch/x86_64/power.h>
#include <arch/x86_64/serial.h>
#include <arch/x86_64/smp.h>
#include <kernel/cmdline.h>
#include <kernel/cpu_backtrace.h>
#include <kernel/kprobes.h>
#include <kernel/nmi.h>
#include <kernel/nmi_provoke.h>
#include <kernel/nmi_trace.h>
#include <kernel/printk.h>
#include <kernel/shell.h>
#include <kernel/string.h>
#include <kernel/task.h>
#include <kernel/user.h>
#include <kernel/vmalloc.h>
#include <kernel/watchdog.h>

#define LINE_MAX 120
#define WORDS_MAX 4
#define SHELL_PROBES 4

/* Sends NMIs to ourselves with action running inside each handler pass, and waits for them. */
static void nmi_episode(uint64_t count, void (*action)(uint64_t pass))
{
    if (!nmi_provoke_start(action, false)) {
        printk("no local APIC: this machine cannot send itself NMIs\n");
        return;
    }
    for (uint64_t i = 0; i < count; i++) {
        send_self_nmi();
        spin_until(&self_claimed, self_sent);
    }
    nmi_provoke_stop();
    printk("sent %lu NMIs to this CPU; the handler claimed %lu\n", self_sent, self_claimed);
    nmi_trace_print();
}

static void command_nmi(int argc, char **argv)
{
    uint64_t count = 1;
    if (argc > 2 || (argc == 2 && (parse_number(argv[1], 100000, &count) || count == 0)))
        printk("usage: nmi [N], N from 1 to 100000\n");
    else
        nmi_episode(count, NULL);
}

static void command_pf_in_nmi(int argc, char **argv) { nmi_episode(1, fault_with_nmi_pending); }
static void command_int3_in_nmi(int argc, char **argv) { nmi_episode(1, int3_with_nmi_pending); }

static void command_lockup(int argc, char **argv)
{
    if (!watchdog_running()) {
        printk("the watchdog is off, so nothing would ever notice:"
               " turn it on first (watchdog on)\n");
        return;
    }
    printk("locking up CPU 0: interrupts off, spinning; the watchdog should report it\n");
    interrupts_disable();
    for (;;)
        cpu_relax();
}

static void command_watchdog(int argc, char **argv)
{
    uint64_t seconds = 2;
    if (argc == 2 && !strcmp(argv[1], "off")) {
        watchdog_stop();
    } else if (argc == 2 && (!strcmp(argv[1], "on") || !parse_number(argv[1], 60, &seconds)) &&
               seconds >= 1) {
        watchdog_start((unsigned)seconds);
    } else {
        printk("usage: watchdog on|off|N, N seconds from 1 to 60\n");
    }
}

static void command_tasks(int argc, char **argv) { task_list(); }
static void command_cast(int argc, char **argv)
{
    task_create_cast();
    task_list();
}
static void command_dump(int argc, char **argv) { show_state(); }
static void command_backtrace_all(int argc, char **argv) { backtrace_all_cpus(); }

static struct kprobe shell_probes[SHELL_PROBES];
static char probe_names[SHELL_PROBES][40];

static void command_kprobe(int argc, char **argv)
{
    bool add = argc == 3 && !strcmp(argv[1], "add");
    if (argc != 3 || (!add && strcmp(argv[1], "del")) || strlen(argv[2]) >= sizeof probe_names[0]) {
        printk("usage: kprobe add|del SYMBOL\n");
        return;
    }
    int probed = -1, free_slot = -1;
    for (int i = 0; i < SHELL_PROBES; i++)
        if (shell_probes[i].symbol && !strcmp(probe_names[i], argv[2]))
            probed = i;
        else if (!shell_probes[i].symbol && free_slot < 0)
            free_slot = i;
    if (probed >= 0 && add) {
        printk("kprobe: %s is already probed (%lu hits)\n", argv[2], shell_probes[probed].hits);
    } else if (probed >= 0) {
        unregister_kprobe(&shell_probes[probed]);
        printk("kprobe: %s removed after %lu hits\n", argv[2], shell_probes[probed].hits);
        shell_probes[probed].symbol = NULL;
    } else if (!add) {
        printk("kprobe: %s is not probed\n", argv[2]);
    } else if (free_slot < 0) {
        printk("kprobe: all %d shell probes are in use\n", SHELL_PROBES);
    } else {
        struct kprobe *p = &shell_probes[free_slot];
        memcpy(probe_names[free_slot], argv[2], strlen(argv[2]) + 1);
        *p = (struct kprobe){.symbol = probe_names[free_slot]};
        if (register_kprobe(p))
            p->symbol = NULL;
        else
            printk("kprobe: %s at %016lx; 'kprobe del %s' shows its hits\n",
                   argv[2], p->address, argv[2]);
    }
}

static void command_vmalloc(int argc, char **argv)
{
    uint64_t *area = vmalloc(PAGE_SIZE);
    if (!area) {
        printk("vmalloc: out of memory\n");
        return;
    }
    uint64_t saved = read_cr3(), faults_before = vmalloc_faults;
    write_cr3(vmalloc_stale_page_table());
    area[0] = 0x1234; /* from a page table that has not seen the area: one fault syncs it */
    write_cr3(saved);
    printk("vmalloc: a page at %p; written from a page table made before the area existed: "
           "%lu fault(s) synced the top-level entry\n",
           (void *)area, vmalloc_faults - faults_before);
    vfree(area, PAGE_SIZE);
}

static void command_mode(int argc, char **argv)
{
    int strategy = argc == 2 ? nmi_strategy_named(argv[1]) : -1;
    if (strategy < 0)
        printk("usage: mode nested|naive|naive-raw|latch|ret\n");
    else if (nmi_set_strategy((enum nmi_strategy)strategy))
        printk("nmi: strategy %s\n", argv[1]);
    else
        printk("nmi: an NMI handler is running on some CPU; strategy not changed, try again\n");
}

static void command_stats(int argc, char **argv)
{
    for (int i = 0; i < cpu_count; i++) {
        const struct nmi_cpu_state *n = cpus[i].nmi;
        printk("CPU %d: strategy %s; NMIs %lu, nested %lu, handler passes %lu (extra %lu), "
               "unknown %lu; watchdog %s (%lu NMIs)\n",
               i, nmi_strategy_name(nmi_current_strategy()), n->entries, n->nested,
               n->passes, nmi_extra_passes(n), n->unknown,
               watchdog_running() ? watchdog_source() : "off", watchdog_nmis);
    }
}

static void command_trace(int argc, char **argv)
{
    bool on = argc == 2 && !strcmp(argv[1], "on");
    if (!on && (argc != 2 || strcmp(argv[1], "off"))) {
        printk("usage: trace on|off\n");
        return;
    }
    nmi_trace_arm(on);
    if (on && nmi_current_strategy() != NMI_NESTED)
        printk("trace: armed, but only nmi=nested has these stack words (mode nested)\n");
    else if (on)
        printk("trace: armed: the next nested NMI is recorded (try pf-in-nmi)\n");
    else
        printk("trace: off\n");
}

static void command_user(int argc, char **argv)
{
    uint64_t argument = 0;
    if (argc == 1 || argc > 3 || (argc == 3 && parse_number(argv[2], ~0UL, &argument))) {
        if (argc != 1)
            printk("usage: user PROGRAM [NUMBER]\n");
        user_list_programs();
        return;
    }
    user_run(argv[1], argument, true);
}

static void command_reboot(int argc, char **argv) { machine_reboot(); }
static void command_poweroff(int argc, char **argv) { machine_poweroff(); }
static void command_help(int argc, char **argv);

static const struct {
    const char *name, *arguments, *help;
    void (*run)(int argc, char **argv);
} commands[] = {
    {"help", "", "this list", command_help},
    {"nmi", "[N]", "send N NMIs to this CPU (default 1)", command_nmi},
    {"pf-in-nmi", "", "an NMI handler that page-faults with another NMI pending",
     command_pf_in_nmi},
    {"int3-in-nmi", "", "the same with an int3", command_int3_in_nmi},
    {"lockup", "", "interrupts off, spin forever: the watchdog must catch it", command_lockup},
    {"watchdog", "on|off|N", "the NMI watchdog, threshold N seconds", command_watchdog},
    {"tasks", "", "the tasks and their states", command_tasks},
    {"cast", "", "start the stories' tasks (one with a broken frame chain)", command_cast},
    {"dump", "", "show_state(): every task's backtrace", command_dump},
    {"backtrace-all", "", "an NMI to every CPU: each prints where it is", command_backtrace_all},
    {"kprobe", "add|del SYMBOL", "a kprobe on a kernel function", command_kprobe},
    {"vmalloc", "", "vmalloc a page and touch it from a page table that lacks it", command_vmalloc},
    {"mode", "nested|naive|latch|ret", "the NMI strategy (also naive-raw)", command_mode},
    {"stats", "", "the NMI counters", command_stats},
    {"trace", "on|off", "print the NMI stack at each step of the next nested NMI", command_trace},
    {"user", "PROGRAM [N]", "run a user-mode program (no PROGRAM: the list)", command_user},
    {"reboot", "", "restart the machine", command_reboot},
    {"poweroff", "", "switch it off (QEMU exits)", command_poweroff},
};

static void command_help(int argc, char **argv)
{
    for (unsigned i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printk("  %-12s %-20s %s\n", commands[i].name, commands[i].arguments, commands[i].help);
}

void shell_execute(char *line)
{
    char *argv[WORDS_MAX];
    int argc = 0;
    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        if (argc == WORDS_MAX) {
            printk("shell: too many words (at most %d)\n", WORDS_MAX);
            return;
        }
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    if (argc == 0)
        return;
    for (unsigned i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[0], commands[i].name)) {
            commands[i].run(argc, argv);
            return;
        }
    printk("shell: unknown command '%s' (type help)\n", argv[0]);
}

void shell_run(void)
{
    char line[LINE_MAX + 1];
    printk("nmilab shell: type help\n");
    if (!keyboard_present())
        printk("keyboard: no PS/2 controller answers, so only the serial line can type here;"
               " the demos need no keyboard:"
               " restart and pick them in GRUB's menu (nmilab demos)\n");
    for (;;) {
        printk("nmilab> ");
        size_t length = 0;
        bool too_long = false;
        int c; /* from the serial line, else the keyboard */
        do {
            while ((c = serial_read()) < 0 && (c = keyboard_read()) < 0)
                task_sleep(1);
            if ((c == '\b' || c == 0x7f) && length) {
                length--;
                printk("\b \b");
            } else if (c >= ' ' && c <= '~' && length < LINE_MAX) {
                line[length++] = (char)c;
                printk("%c", c);
            } else if (c >= ' ' && c <= '~') {
                too_long = true; /* not kept, not echoed: the whole line will be refused */
            } /* other control characters are ignored; a \r or \n ends the line */
        } while (c != '\r' && c != '\n');
        printk("\n");
        line[length] = '\0';
        if (too_long)
            printk("shell: line too long (at most %d characters); ignored\n", LINE_MAX);
        else
            shell_execute(line);
    }
}
