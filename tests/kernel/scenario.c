/* The scenario runner: TAP output, pass/fail bookkeeping and the exit at the end. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/power.h>
#include <kernel/printk.h>
#include <tests/kernel/scenario.h>
#include <kernel/string.h>

static const struct scenario *const scenario_lists[] = {
    boot_scenarios, nmi_scenarios, story_scenarios, verify_scenarios, user_scenarios, smp_scenarios,
    lab_scenarios, bench_scenarios, breakpoint_scenarios, ret_exit_scenarios,
};

static bool running;
static int failed_expectations;
static char first_failure[200];
static const char *skip_reason;

bool scenario_failed(void) { return failed_expectations != 0; }

bool expect(bool ok, const char *fmt, ...)
{
    if (ok)
        return true;
    char message[200];
    va_list arguments;
    va_start(arguments, fmt);
    vformat(message, sizeof message, fmt, arguments);
    va_end(arguments);
    printk("# expectation failed: %s\n", message);
    if (!failed_expectations++)
        memcpy(first_failure, message, sizeof first_failure);
    return false;
}

bool scenario_running(void) { return running; }

void scenario_skip_reason(const char *reason) { skip_reason = reason; }

static const struct scenario *current;
static int current_number;

static bool report(int number, const struct scenario *scenario, enum scenario_result result)
{
    if (result == SCENARIO_SKIP) {
        printk("ok %d - %s # SKIP %s\n", number, scenario->name, skip_reason);
        return true;
    }
    if (result == SCENARIO_PASS && !failed_expectations) {
        printk("ok %d - %s\n", number, scenario->name);
        return true;
    }
    printk("not ok %d - %s # %s\n", number, scenario->name, failed_expectations ? first_failure : "failed");
    return false;
}

/* For the self-test's table at the end: each scenario's name and result. */
#define SUMMARY_MAX 40
static struct {
    const char *name;
    const char *result;
} summary[SUMMARY_MAX];

static bool run_one(int number, const struct scenario *scenario)
{
    failed_expectations = 0;
    skip_reason = "not supported here";
    current = scenario;
    current_number = number;
    printk("# scenario %s\n", scenario->name);
    enum scenario_result result = scenario->run();
    bool ok = report(number, scenario, result);
    if (number <= SUMMARY_MAX) {
        summary[number - 1].name = scenario->name;
        summary[number - 1].result = !ok ? "FAIL" : result == SCENARIO_SKIP ? "skipped (not here)" : "ok";
    }
    return ok;
}

static bool self_test; /* test=all: the GRUB menu's self-test, whose results stay on screen */

/* The self-test's results as a table a person can read on the screen (TAP is for the runner). */
static void print_summary(int count)
{
    printk("\nself-test summary\n  %-24s %s\n", "scenario", "result");
    for (int i = 0; i < count && i < SUMMARY_MAX; i++)
        printk("  %-24s %s\n", summary[i].name, summary[i].result);
}

/* QEMU's isa-debug-exit device (-device isa-debug-exit,iobase=0xf4) turns a byte written to its
 * port into the emulator's exit status ((byte << 1) | 1): how a run reports pass or fail. */
#define QEMU_DEBUG_EXIT_PORT 0xf4
#define QEMU_EXIT_PASS 0x10 /* QEMU exits with 33 */
#define QEMU_EXIT_FAIL 0x11 /* QEMU exits with 35 */

static bool running_in_qemu(void)
{
    uint32_t regs[4];
    cpuid(1, 0, regs);
    if (!(regs[2] & (1u << 31))) /* the "running under a hypervisor" bit */
        return false;
    cpuid(0x40000000, 0, regs);
    char vendor[13];
    memcpy(vendor, &regs[1], 12); /* EBX, ECX, EDX */
    vendor[12] = '\0';
    return !strcmp(vendor, "TCGTCGTCGTCG") || !memcmp(vendor, "KVMKVMKVM", 9);
}

static void qemu_exit(bool pass)
{
    if (!running_in_qemu())
        return;
    outb(QEMU_DEBUG_EXIT_PORT, pass ? QEMU_EXIT_PASS : QEMU_EXIT_FAIL);
    /* Under TCG the exit happens a little later, not at the out instruction: wait for it (and if
     * no isa-debug-exit device is there, give up after a moment). */
    for (int i = 0; i < 2000000; i++)
        cpu_relax();
}


/* Under QEMU the exit status says pass or fail (isa-debug-exit). Elsewhere (Bochs) a single
 * scenario ends with ACPI soft-off, so that the emulator exits and its runner reads the TAP lines;
 * the self-test a person starts on a real PC halts instead, with its results on the screen. */
static __attribute__((noreturn)) void finish(bool pass)
{
    printk("# %s\n", pass ? "all passed" : "FAILED");
    running = false;
    qemu_exit(pass);
    if (!self_test)
        machine_poweroff();
    printk("self-test finished: %s. Halted; switch the machine off or reset it.\n", pass ? "PASS" : "FAIL");
    halt_forever();
}

void scenario_run(const char *name)
{
    running = true;
    printk("TAP version 13\n");
    bool all = !strcmp(name, "all"), pass = true;
    self_test = all;
    int number = 0;
    for (unsigned l = 0; l < sizeof scenario_lists / sizeof scenario_lists[0]; l++)
        for (const struct scenario *s = scenario_lists[l]; s->name; s++)
            if (all ? s->in_self_test : !strcmp(s->name, name)) {
                if (!all)
                    printk("1..1\n");
                pass &= run_one(++number, s);
            }
    if (number == 0) {
        printk("1..1\nnot ok 1 - %s # unknown scenario (see tests/run.py --list)\n", name);
        finish(false);
    }
    if (all) {
        printk("1..%d\n", number);
        print_summary(number);
    }
    finish(pass);
}

void scenario_complete(enum scenario_result result)
{
    finish(report(current_number, current, result));
}

void scenario_abort(void)
{
    if (!running)
        return;
    running = false;
    qemu_exit(false);
}
