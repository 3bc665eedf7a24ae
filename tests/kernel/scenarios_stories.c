/* The article's stories as scenarios: why an NMI handler takes page faults and hits int3.
 *   watchdog-dump  a hard lockup; the NMI watchdog dumps every task over a slow console while
 *                  the dump's own faults let more watchdog NMIs in
 *   vmalloc-nmi    an NMI handler writes a vmalloc'd trace buffer from a page table that has not
 *                  seen the vmalloc area yet
 *   module-nmi     an NMI callback whose code lives in the vmalloc area, like a module's
 *   kprobe-nmi     a kprobe on a function the NMI handler calls */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/serial.h>
#include <arch/x86_64/timer.h>
#include <kernel/cmdline.h>
#include <kernel/kprobes.h>
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <kernel/shell.h>
#include <kernel/stacktrace.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>
#include <kernel/string.h>
#include <kernel/task.h>
#include <kernel/vmalloc.h>
#include <kernel/watchdog.h>

/* ---- watchdog-source ---- */

/* Which NMI source this machine gives the watchdog: part of the GRUB self-test, so a real PC's
 * boot log names it (QEMU and Bochs have no performance counters to show). The source must then
 * work: a single-CPU source's checks arrive, and the buddy detector's ticks move on every CPU. */
static enum scenario_result watchdog_source_named(void)
{
    bool started_here = !watchdog_running();
    if (started_here && !watchdog_start(2)) {
        scenario_skip_reason("this machine gives the watchdog no NMI source (the lines above say"
                             " which were tried)");
        return SCENARIO_SKIP;
    }
    printk("# the watchdog's NMI source on this machine: %s\n", watchdog_source());
    bool buddy = !memcmp(watchdog_source(), "buddy", 5);
    uint64_t nmis = watchdog_nmis, ticks[CPUS_MAX];
    for (int i = 0; i < cpu_count; i++)
        ticks[i] = timer_cpu_ticks[i];
    udelay(300000);
    if (buddy) {
        for (int i = 0; i < cpu_count; i++)
            expect(timer_cpu_ticks[i] != ticks[i], "CPU %d's tick did not move in 300 ms: its"
                   " buddy would report a lockup", i);
    } else {
        expect(watchdog_nmis != nmis, "no check from %s in 300 ms", watchdog_source());
    }
    if (started_here)
        watchdog_stop();
    return SCENARIO_PASS;
}

/* ---- watchdog-dump ---- */

static void after_report(int dumped, uint64_t nested)
{
    expect(dumped == task_count(), "show_state dumped %d of %d tasks", dumped, task_count());
    if (nmi_current_strategy() == NMI_RET) /* the NMIs wait, blocked, until the dump is over */
        expect(nested == 0, "nmi=ret: %lu NMIs arrived nested during the dump", nested);
    else
        expect(nested > 0, "no NMI arrived nested during the dump: the test did not test anything");
    scenario_complete(SCENARIO_PASS);
}

/* Spins with interrupts off until the report ends the scenario, or for 5 s: a watchdog that has
 * not reported by then (the threshold is 1 s) never will. */
static __attribute__((noinline)) void lock_up_this_cpu(void)
{
    printk("# locking up CPU 0: interrupts off, spinning\n");
    interrupts_disable();
    for (uint64_t start = rdtsc(); rdtsc() - start < 5000 * tsc_khz;)
        cpu_relax();
    interrupts_enable();
}

static enum scenario_result watchdog_dump(void)
{
    task_create_cast();
    if (!cmdline_get(&kernel_cmdline, "console_delay")) {
        serial_set_delay(30); /* a slow serial line: the dump outlasts the watchdog period */
        printk("# console delay 30 us per byte\n");
    }
    if (!watchdog_running() && !watchdog_start(1)) {
        scenario_skip_reason("this machine gives the watchdog no NMI source (the lines above say"
                             " which were tried)");
        return SCENARIO_SKIP;
    }
    watchdog_after_report = after_report;
    lock_up_this_cpu();
    watchdog_after_report = NULL;
    expect(false, "no hard LOCKUP report after 5 s with interrupts off (threshold 1 s)");
    return SCENARIO_FAIL;
}

/* ---- vmalloc-nmi and module-nmi ---- */

struct trace_ring {
    uint64_t head;
    uint64_t entries[500];
};
static struct trace_ring *ring;

static void trace_from_nmi(uint64_t pass)
{
    if (pass == 1)
        send_self_nmi(); /* pending: the fault below lets it in */
    ring->entries[ring->head % 500] = 0x7ace0000 + pass;
    ring->head++;
}

static bool stale_page_table_ready(uint64_t *saved_cr3)
{
    *saved_cr3 = read_cr3();
    write_cr3(vmalloc_stale_page_table());
    return true;
}

static void expect_one_nested_episode(uint64_t vmalloc_faults_before)
{
    expect_one_nested_nmi();
    expect(vmalloc_faults - vmalloc_faults_before == 1, "%lu vmalloc faults, not 1",
           vmalloc_faults - vmalloc_faults_before);
}

static enum scenario_result vmalloc_nmi(void)
{
    uint64_t saved_cr3, faults_before = vmalloc_faults;
    ring = vmalloc(sizeof *ring);
    if (!expect(ring != NULL, "vmalloc failed") || !scenario_nmi_start(trace_from_nmi, false))
        return SCENARIO_FAIL;
    stale_page_table_ready(&saved_cr3);
    send_self_nmi();
    spin_until(&self_claimed, 2);
    write_cr3(saved_cr3);
    nmi_provoke_stop();
    expect_one_nested_episode(faults_before);
    expect(ring->head == 2 && ring->entries[0] == 0x7ace0001 && ring->entries[1] == 0x7ace0002,
           "the trace ring holds %lu entries (%lx, %lx), not the two passes", ring->head, ring->entries[0],
           ring->entries[1]);
    printk("# trace ring at %p: %lu entries, %lx %lx\n", (void *)ring, ring->head, ring->entries[0], ring->entries[1]);
    return SCENARIO_PASS;
}

/* The "module": position-independent code (absolute addresses only) that is copied into the
 * vmalloc area and called from the NMI handler chain. It counts its calls and claims nothing. */
volatile uint64_t module_callback_calls;
__asm__(".pushsection .rodata\n"
        "module_text_start:\n"
        "    movabs $module_callback_calls, %rax\n"
        "    lock incq (%rax)\n"
        "    xor %eax, %eax\n"
        "    ret\n"
        "module_text_end:\n"
        ".popsection");
extern const char module_text_start[], module_text_end[];

static void send_once(uint64_t pass)
{
    if (pass == 1)
        send_self_nmi(); /* pending: the module's first instruction fetch faults and lets it in */
}

static enum scenario_result module_nmi(void)
{
    uint64_t saved_cr3, faults_before = vmalloc_faults;
    size_t size = (size_t)(module_text_end - module_text_start);
    void *text = vmalloc(size);
    if (!expect(text != NULL, "vmalloc failed") || !scenario_nmi_start(send_once, false))
        return SCENARIO_FAIL;
    memcpy(text, module_text_start, size);
    module_callback_calls = 0;
    register_nmi_handler("module", (nmi_handler)text);
    stale_page_table_ready(&saved_cr3);
    send_self_nmi();
    spin_until(&self_claimed, 2);
    write_cr3(saved_cr3);
    unregister_nmi_handler((nmi_handler)text);
    nmi_provoke_stop();
    expect_one_nested_episode(faults_before);
    expect(module_callback_calls == 2, "the module callback ran %lu times, not 2 (once per pass)",
           module_callback_calls);
    printk("# module code at %p ran %lu times\n", text, module_callback_calls);
    return SCENARIO_PASS;
}

/* ---- kprobe-nmi ---- */

/* The probed function: it calls another, so it sets up a frame and begins with push %rbp. */
static volatile uint64_t probed_calls;
static __attribute__((noinline)) void count_probed_call(void) { probed_calls++; }
__attribute__((noinline)) void nmi_probe_target(void);
__attribute__((noinline)) void nmi_probe_target(void) { count_probed_call(); }

static void call_probed(uint64_t pass)
{
    if (pass == 1)
        send_self_nmi(); /* pending: the probe's int3 lets it in */
    nmi_probe_target();
}

static uint64_t pre_handler_calls;
static void count_pre_handler(struct kprobe *probe, struct trap_frame *frame) { pre_handler_calls++; }

static enum scenario_result kprobe_nmi(void)
{
    static struct kprobe probe = {.symbol = "nmi_probe_target", .pre_handler = count_pre_handler};
    static struct kprobe missing = {.symbol = "no_such_function"};
    expect(register_kprobe(&missing) == -1, "a probe on a function that does not exist was accepted");
    if (!expect(register_kprobe(&probe) == 0, "register_kprobe(nmi_probe_target) failed"))
        return SCENARIO_FAIL;
    uint8_t patched = *(volatile uint8_t *)probe.address;
    if (!scenario_nmi_start(call_probed, false))
        return SCENARIO_SKIP;
    send_self_nmi();
    spin_until(&self_claimed, 2);
    nmi_provoke_stop();
    unregister_kprobe(&probe);
    expect(patched == 0xcc, "the probe did not write int3 (found 0x%x)", patched);
    expect(*(volatile uint8_t *)probe.address == 0x55, "unregistering did not restore the first byte");
    expect(probe.hits == 2 && pre_handler_calls == 2, "the probe was hit %lu times (pre-handler %lu), not 2",
           probe.hits, pre_handler_calls);
    expect_one_nested_nmi();
    nmi_probe_target(); /* unprobed now: no hit */
    expect(probe.hits == 2, "the probe still fired after unregister_kprobe");
    expect(probed_calls == 3, "the probed function ran %lu times, not 3", probed_calls);
    printk("# kprobe on %s at %lx: %lu hits in NMI context\n", probe.symbol, probe.address, probe.hits);
    return SCENARIO_PASS;
}

/* The shell's vmalloc command a thousand times: the pages and page tables it uses come back. */
static enum scenario_result vmalloc_1000(void)
{
    uint64_t faults_before = vmalloc_faults;
    for (int i = 0; i < 1000; i++) {
        char line[] = "vmalloc";
        shell_execute(line);
    }
    expect(vmalloc_faults - faults_before == 1000, "%lu vmalloc faults for 1000 commands", vmalloc_faults - faults_before);
    return SCENARIO_PASS;
}

/* Every function on the int3, page-fault and NMI entry paths, and kprobes itself, is refused,
 * and left untouched. */
static enum scenario_result kprobe_refuse(void)
{
    static const char *const must_be_refused[] = {
        "trap_dispatch", "breakpoint", "kprobe_hit", "register_kprobe", "exception_table_fixup",
        "page_fault_handler", "vmalloc_fault",
        "paging_sync_top_level", "nmi_nested_handle", "nmi_naive_handle", "nmi_latch_handle", "nmi_entry_nested",
        "repeat_nmi", "trap_common", "trap_stub_3", "trap_stub_14"};
    unsigned refused = 0, required = 0;
    for (unsigned long i = 0; i < kernel_symbol_count; i++) {
        const struct kernel_symbol *s = &kernel_symbols[i];
        if (s->address < (uint64_t)noprobe_start || s->address >= (uint64_t)noprobe_end)
            continue;
        struct kprobe probe = {.symbol = s->name};
        uint8_t before = *(volatile uint8_t *)s->address;
        if (!expect(register_kprobe(&probe) == -1, "a probe on %s was accepted", s->name)) {
            unregister_kprobe(&probe);
            continue;
        }
        expect(*(volatile uint8_t *)s->address == before, "refusing %s changed its first byte", s->name);
        refused++;
        for (unsigned k = 0; k < sizeof must_be_refused / sizeof must_be_refused[0]; k++)
            required += !strcmp(s->name, must_be_refused[k]);
    }
    expect(required == sizeof must_be_refused / sizeof must_be_refused[0],
           "only %u of the %zu functions that must not be probed are in the no-probe section", required,
           sizeof must_be_refused / sizeof must_be_refused[0]);
    printk("# kprobe-refuse: %u functions refused\n", refused);
    return SCENARIO_PASS;
}

/* kprobe-trampoline-kept: a task may still be inside the trampoline of a probe that went (preempted
 * between its two instructions), so the same struct kprobe put on another function must not
 * rewrite it: that task would jump back into the wrong function. */
/* Not leaves (a leaf has no frame, so no push %rbp to probe), and not tail calls either. */
__attribute__((noinline)) int probed_first(int x);
__attribute__((noinline)) int probed_first(int x)
{
    count_probed_call();
    __asm__ volatile("" ::: "memory");
    return x + 1;
}

__attribute__((noinline)) int probed_second(int x);
__attribute__((noinline)) int probed_second(int x)
{
    count_probed_call();
    __asm__ volatile("" ::: "memory");
    return x + 2;
}

static uint64_t trampoline_target(const uint8_t *trampoline)
{
    uint64_t target;
    memcpy(&target, trampoline + 7, sizeof target); /* after push %rbp; jmp *0(%rip) */
    return target;
}

static enum scenario_result kprobe_trampoline_kept(void)
{
    static struct kprobe probe = {.symbol = "probed_first"};
    if (!expect(register_kprobe(&probe) == 0, "probed_first could not be probed"))
        return SCENARIO_FAIL;
    const uint8_t *first = probe.trampoline;
    expect(probed_first(1) == 2 && probe.hits == 1, "the probe on probed_first did not work");
    unregister_kprobe(&probe);
    probe.symbol = "probed_second";
    if (!expect(register_kprobe(&probe) == 0, "probed_second could not be probed"))
        return SCENARIO_FAIL;
    expect(probed_second(1) == 3 && probe.hits == 1, "the probe on probed_second did not work");
    uint64_t resume = trampoline_target(first);
    printk("# the first trampoline still returns to %s\n",
           resume == (uint64_t)probed_first + 1 ? "probed_first+1" : "somewhere else");
    expect(resume == (uint64_t)probed_first + 1,
           "probed_first's old trampoline now jumps to %lx, not into probed_first", resume);
    unregister_kprobe(&probe);
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

const struct scenario story_scenarios[] = {
    {"watchdog-dump", watchdog_dump, false},
    {"vmalloc-nmi", vmalloc_nmi, true},
    {"module-nmi", module_nmi, true},
    {"kprobe-nmi", kprobe_nmi, true},
    {"kprobe-refuse", kprobe_refuse, true},
    {"watchdog-source", watchdog_source_named, true},
    {"kprobe-trampoline-kept", kprobe_trampoline_kept, false},
    {"vmalloc-1000", vmalloc_1000, false},
    {0},
};
