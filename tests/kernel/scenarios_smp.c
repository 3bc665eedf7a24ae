/* Scenarios with several CPUs (tests/run.py boots them under QEMU -smp 4, and Bochs with 2 CPUs).
 * Work runs on each CPU as a task made for that CPU; the scenario itself runs on CPU 0 and waits
 * for them. Each CPU counts in its own slot of the arrays below. */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <kernel/cmdline.h>
#include <kernel/cpu_backtrace.h>
#include <kernel/kprobes.h>
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <kernel/string.h>
#include <kernel/task.h>
#include <kernel/user.h>
#include <kernel/watchdog.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>

#define ROUNDS 300
#define STORM_EXTERNAL 20 /* a storm goes on until CPU 0 has had this many external NMIs */
#define WAIT_TICKS 3000 /* 30 s: TCG runs four CPUs on what the host has */

static volatile uint64_t done[CPUS_MAX], pending[CPUS_MAX], claimed[CPUS_MAX], external[CPUS_MAX];
static volatile uint64_t task_register[CPUS_MAX], corrupted[CPUS_MAX], rounds[CPUS_MAX];
static volatile bool release, storm;
static struct nmi_cpu_state before[CPUS_MAX];

static bool several_cpus(void)
{
    if (cpu_count > 1)
        return true;
    scenario_skip_reason("one CPU online");
    return false;
}

/* Runs work(cpu) as a task on every CPU (CPU 0 too) and waits until each has returned. */
static bool on_every_cpu(void (*work)(void *cpu))
{
    for (int i = 0; i < cpu_count; i++) {
        done[i] = 0;
        if (!expect(task_create_on(i, "smp-work", work, (void *)(uint64_t)i) != NULL, "no task slot for CPU %d", i))
            return false;
    }
    for (int i = 0; i < cpu_count; i++)
        for (uint64_t start = timer_ticks; !done[i] && timer_ticks - start < WAIT_TICKS;)
            task_sleep(1);
    for (int i = 0; i < cpu_count; i++)
        if (!expect(done[i], "CPU %d did not finish its work within %d s", i, WAIT_TICKS / TIMER_HZ))
            return false;
    return true;
}

static void finish(void *cpu)
{
    done[(uint64_t)cpu] = 1;
    task_exit();
}

/* smp-boot: every CPU the MADT lists is up, on its own TSS, with its own NMI stack. */
static void record_task_register(void *cpu)
{
    uint16_t selector;
    __asm__ volatile("str %0" : "=r"(selector));
    task_register[(uint64_t)cpu] = selector;
    /* INIT leaves CR0 at its reset value, caches off (CD, bit 30; NW, bit 29): a CPU must not
     * keep them (on a real board it would run uncached; emulators do not care) */
    uint64_t cr0 = read_cr0();
    expect(!(cr0 & (3UL << 29)), "CPU %lu runs with caches off: CR0 %lx (CD/NW set)",
           (uint64_t)cpu, cr0);
    expect(this_cpu()->index == (int)(uint64_t)cpu, "a task made for CPU %lu ran on CPU %d", (uint64_t)cpu,
           this_cpu()->index);
    finish(cpu);
}

static enum scenario_result smp_boot(void)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    unsigned listed = apic_board.cpus_found < CPUS_MAX ? apic_board.cpus_found : CPUS_MAX;
    bool limited = cmdline_get(&kernel_cmdline, "smp") || cmdline_get(&kernel_cmdline, "nosmp");
    expect(limited || cpu_count == (int)listed, "%d CPUs online, the MADT lists %u", cpu_count, listed);
    if (!on_every_cpu(record_task_register))
        return SCENARIO_FAIL;
    for (int i = 0; i < cpu_count; i++) {
        struct cpu *cpu = &cpus[i];
        expect(cpu->online && timer_cpu_ticks[i] > 0, "CPU %d: online %d, %lu timer ticks", i,
               cpu->online, timer_cpu_ticks[i]);
        expect(task_register[i] == (uint64_t)TSS_SELECTOR(i), "CPU %d runs with TSS selector %lx", i, task_register[i]);
        for (int j = 0; j < i; j++)
            expect(cpus[j].apic_id != cpu->apic_id, "CPUs %d and %d share APIC ID %u", j, i, cpu->apic_id);
        uint64_t top = ist_stack_top_of(i, IST_NMI), bottom = ist_stack_bottom_of(i, IST_NMI);
        expect(paging_is_mapped(top - 8) && !paging_is_mapped(bottom - 8), "CPU %d's NMI stack or its guard page", i);
        expect(cpu->nmi == (struct nmi_cpu_state *)top, "CPU %d's NMI state is not at its NMI stack top", i);
        for (int j = 0; j < i; j++)
            expect(ist_stack_top_of(j, IST_NMI) != top, "CPUs %d and %d share an NMI stack", j, i);
        printk("# CPU %d: APIC ID %u, TSS %lx, NMI stack %016lx-%016lx, %lu ticks\n", i, cpu->apic_id,
               task_register[i], bottom, top, timer_cpu_ticks[i]);
    }
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

/* The NMI handler of the next scenarios: on each CPU, claims that CPU's self-NMIs (in one go,
 * as in scenarios_nmi.c); during a storm, claims the rest as external. The first pass of each
 * round sends one more self-NMI and then faults: the fault's iretq lets it in, nested. */
static bool smp_nmi_handler(struct trap_frame *frame)
{
    int cpu = this_cpu()->index;
    uint64_t mine = __atomic_exchange_n(&pending[cpu], 0, __ATOMIC_SEQ_CST);
    if (!mine) {
        external[cpu] += storm;
        return storm;
    }
    claimed[cpu] += mine;
    if (claimed[cpu] % 2) { /* the first NMI of the round */
        __atomic_add_fetch(&pending[cpu], 1, __ATOMIC_SEQ_CST);
        apic_send_self_nmi();
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
    }
    return true;
}

/* Rounds of a self-NMI whose handler faults with another pending, each CPU at once. A value on
 * the task's stack is checked after every round. */
static void nested_rounds(void *argument)
{
    uint64_t cpu = (uint64_t)argument;
    before[cpu] = *this_cpu()->nmi;
    uint64_t start = timer_ticks;
    for (uint64_t round = 0; round < ROUNDS || (storm && external[0] < STORM_EXTERNAL &&
                                                timer_ticks - start < WAIT_TICKS / 2); round++) {
        volatile uint64_t canary = 0x5a5a000000000000UL | cpu << 32 | round; /* on this task's stack */
        __atomic_add_fetch(&pending[cpu], 1, __ATOMIC_SEQ_CST);
        apic_send_self_nmi();
        while (pending[cpu]) /* until this CPU's handler has claimed both */
            cpu_relax();
        corrupted[cpu] += canary != (0x5a5a000000000000UL | cpu << 32 | round);
        rounds[cpu] = round + 1;
    }
    finish(argument);
}

static bool counters_add_up(const struct nmi_cpu_state *after, bool nested_each_round)
{
    for (int i = 0; i < cpu_count; i++) {
        const struct nmi_cpu_state *now = &after[i], *was = &before[i];
        uint64_t entries = now->entries - was->entries, nested = now->nested - was->nested;
        uint64_t passes = now->passes - was->passes, unknown = now->unknown - was->unknown;
        printk("# CPU %d: %lu rounds, %lu self-NMIs claimed, %lu external; entries %lu nested %lu passes %lu unknown %lu\n", i,
               rounds[i], claimed[i], external[i], entries, nested, passes, unknown);
        expect(claimed[i] == 2 * rounds[i], "CPU %d claimed %lu of its %lu self-NMIs", i, claimed[i], 2 * rounds[i]);
        if (nmi_current_strategy() == NMI_RET) /* nothing nests: each NMI waits for the iretq */
            expect(nested == 0, "CPU %d: %lu nested NMIs under nmi=ret", i, nested);
        else
            expect(nested >= rounds[i], "CPU %d: %lu nested NMIs in %lu rounds", i, nested,
                   rounds[i]);
        /* each NMI is a pass, except nested ones that found a repeat already asked for */
        expect(passes <= entries && passes + nested >= entries && (passes == entries || !nested_each_round),
               "CPU %d: %lu passes for %lu NMIs, %lu of them nested", i, passes, entries, nested);
        expect(unknown == 0 && !corrupted[i], "CPU %d: %lu unknown NMIs, %lu rounds with the stack changed", i,
               unknown, corrupted[i]);
    }
    return !scenario_failed();
}

static enum scenario_result run_rounds(bool with_storm)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    for (int i = 0; i < CPUS_MAX; i++)
        pending[i] = claimed[i] = external[i] = corrupted[i] = rounds[i] = 0;
    storm = with_storm;
    register_nmi_handler("smp-scenario", smp_nmi_handler);
    if (with_storm)
        printk("# storm: QMP inject-nmi please\n");
    bool finished = on_every_cpu(nested_rounds);
    struct nmi_cpu_state after[CPUS_MAX]; /* before the handler goes: a storm's NMIs are still coming */
    for (int i = 0; i < cpu_count; i++)
        after[i] = *cpus[i].nmi;
    unregister_nmi_handler(smp_nmi_handler);
    if (!finished || !counters_add_up(after, !with_storm))
        return SCENARIO_FAIL;
    /* external NMIs come in on the boot CPU only (apic_init_cpu): the others must see none */
    for (int i = 0; with_storm && i < cpu_count; i++)
        expect(i == 0 ? external[i] >= STORM_EXTERNAL : external[i] == 0,
               "CPU %d saw %lu external NMIs during the storm", i, external[i]);
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

static enum scenario_result smp_nested_nmi(void) { return run_rounds(false); }
static enum scenario_result smp_storm(void) { return run_rounds(true); }

/* nmi-backtrace-all: CPU 1 spins with interrupts off; CPU 2 (when there is one) is inside an NMI
 * handler that has faulted, so the backtrace NMI reaches it nested. */
static volatile uint64_t in_faulted_handler;

__attribute__((noinline)) static void spin_with_interrupts_off(void *cpu)
{
    interrupts_disable();
    while (!release)
        cpu_relax();
    interrupts_enable();
    finish(cpu);
}

static bool slow_faulting_handler(struct trap_frame *frame)
{
    if (this_cpu()->index != 2 || !__atomic_exchange_n(&pending[2], 0, __ATOMIC_SEQ_CST))
        return false;
    nmi_provoke_fault(NMI_FAULT_ADDRESS); /* NMIs are let in from here on */
    in_faulted_handler = 1;
    udelay(300000);
    in_faulted_handler = 2;
    return true;
}

static void nmi_then_faulting_handler(void *cpu)
{
    pending[2] = 1;
    apic_send_self_nmi();
    finish(cpu);
}

static enum scenario_result nmi_backtrace_all(void)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    release = false;
    in_faulted_handler = 0;
    register_nmi_handler("slow-faulting", slow_faulting_handler);
    task_create_on(1, "spin-irqs-off", spin_with_interrupts_off, (void *)1);
    if (cpu_count > 2)
        task_create_on(2, "nmi-faulting", nmi_then_faulting_handler, (void *)2);
    udelay(100000); /* CPU 1 has taken its task and switched interrupts off */
    for (uint64_t start = rdtsc(); cpu_count > 2 && in_faulted_handler != 1 && rdtsc() - start < 5000 * tsc_khz;)
        cpu_relax();
    expect(cpu_count == 2 || in_faulted_handler == 1, "CPU 2 never got into its faulting NMI handler");
    uint64_t nested_before = cpu_count > 2 ? cpus[2].nmi->nested : 0;
    int answered = backtrace_all_cpus();
    release = true;
    expect(answered == cpu_count, "%d of %d CPUs answered", answered, cpu_count);
    if (cpu_count > 2 && nmi_current_strategy() == NMI_RET) {
        expect(cpus[2].nmi->nested == nested_before, "CPU 2 took the backtrace NMI nested");
        printk("# CPU 2: the backtrace NMI waited for its NMI handler's own iretq\n");
    } else if (cpu_count > 2) {
        expect(cpus[2].nmi->nested > nested_before, "CPU 2 took the backtrace NMI, but not nested");
        printk("# CPU 2: the backtrace NMI arrived nested (rule %s)\n", rule_name(cpus[2].nmi->nested_rule));
    }
    unregister_nmi_handler(slow_faulting_handler);
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

/* smp-backtrace-user: CPU 1 runs a user program while CPU 0 asks every CPU for a backtrace, over
 * and over. An NMI from user mode runs on the task's kernel stack, not in the NMI stack's layout;
 * the report must say where in user mode it was, without walking the user's frame pointers. */
#define BACKTRACE_ROUNDS_MAX 400
static volatile bool user_program_stop;

static int64_t user_program_go_on(struct trap_frame *frame) { return !user_program_stop; }

static void run_user_program(void *cpu)
{
    user_run("syscall-loop", 0, true); /* 0: until its "go on?" call says no */
    finish(cpu);
}

static enum scenario_result smp_backtrace_user(void)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    user_program_stop = false;
    user_result_clear();
    syscall_table[SYS_TEST_FIRST] = user_program_go_on;
    done[1] = 0;
    task_create_on(1, "run-user", run_user_program, (void *)1);
    int rounds = 0, from_user = 0;
    for (; rounds < BACKTRACE_ROUNDS_MAX && from_user < 3 && !done[1]; rounds++) {
        uint64_t entries_before = cpus[1].nmi->entries;
        expect(backtrace_all_cpus() == cpu_count, "round %d: not every CPU answered", rounds);
        uint64_t rip = cpus[1].nmi->interrupted_rip;
        from_user += cpus[1].nmi->entries != entries_before && rip >= USER_BASE && rip < USER_END;
    }
    user_program_stop = true;
    for (uint64_t start = timer_ticks; !done[1] && timer_ticks - start < WAIT_TICKS;)
        task_sleep(1);
    syscall_table[SYS_TEST_FIRST] = NULL;
    printk("# %d rounds of backtrace-all, %d of them found CPU 1 in user mode\n", rounds, from_user);
    expect(from_user >= 3, "only %d backtraces found CPU 1 in user mode", from_user);
    expect(done[1] && !user_last.killed && user_last.status == 0, "the program %s, status %ld",
           user_last.killed ? "was killed" : "did not end well", user_last.status);
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

/* smp-mode-switch: CPU 1 sends itself NMIs in a loop while CPU 0 switches the NMI strategy back
 * and forth for a few seconds. Every NMI must come in through a whole gate: one delivered
 * through a half-written one jumps to a mix of two entry addresses (or to none). */
#define SWITCH_SECONDS 3

static bool claim_own_nmi(struct trap_frame *frame)
{
    int cpu = this_cpu()->index;
    uint64_t mine = __atomic_exchange_n(&pending[cpu], 0, __ATOMIC_SEQ_CST);
    claimed[cpu] += mine;
    return mine != 0;
}

static void self_nmis_until_release(void *cpu)
{
    uint64_t index = (uint64_t)cpu;
    while (!release) {
        __atomic_add_fetch(&pending[index], 1, __ATOMIC_SEQ_CST);
        apic_send_self_nmi();
        while (pending[index])
            cpu_relax();
        rounds[index]++;
    }
    finish(cpu);
}

static enum scenario_result switch_strategies(const enum nmi_strategy *cycle, uint64_t length)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    enum nmi_strategy original = nmi_current_strategy();
    release = false;
    pending[1] = claimed[1] = rounds[1] = done[1] = 0;
    uint64_t unknown_before = cpus[1].nmi->unknown;
    register_nmi_handler("own-nmi", claim_own_nmi);
    task_create_on(1, "self-nmis", self_nmis_until_release, (void *)1);
    uint64_t switches = 0, refused = 0;
    for (uint64_t start = rdtsc(); rdtsc() - start < SWITCH_SECONDS * 1000 * tsc_khz;) {
        if (nmi_set_strategy(cycle[switches % length]))
            switches++;
        else
            refused++;
    }
    while (!nmi_set_strategy(original))
        cpu_relax();
    release = true;
    for (uint64_t start = timer_ticks; !done[1] && timer_ticks - start < WAIT_TICKS;)
        task_sleep(1);
    unregister_nmi_handler(claim_own_nmi);
    printk("# %lu strategy switches (%lu refused) while CPU 1 took %lu self-NMIs\n", switches,
           refused, claimed[1]);
    expect(done[1] && claimed[1] == rounds[1], "CPU 1: %lu of %lu self-NMIs claimed", claimed[1],
           rounds[1]);
    expect(switches >= 100 && rounds[1] >= 100, "only %lu switches and %lu self-NMIs", switches,
           rounds[1]);
    expect(cpus[1].nmi->unknown == unknown_before, "unknown NMIs on CPU 1");
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

static enum scenario_result smp_mode_switch(void)
{
    /* every ordered pair of the five strategies once (20 switches, then round again) */
    static const enum nmi_strategy cycle[] = {
        NMI_NESTED, NMI_NAIVE, NMI_NESTED, NMI_NAIVE_RAW, NMI_NESTED, NMI_LATCH, NMI_NESTED,
        NMI_RET, NMI_NAIVE, NMI_NAIVE_RAW, NMI_NAIVE, NMI_LATCH, NMI_NAIVE, NMI_RET,
        NMI_NAIVE_RAW, NMI_LATCH, NMI_NAIVE_RAW, NMI_RET, NMI_LATCH, NMI_RET,
    };
    return switch_strategies(cycle, sizeof cycle / sizeof cycle[0]);
}

/* The same in a short cycle through ret. (Before nmi_set_strategy held an interim entry in the
 * gate, a cycle with ret just before latch panicked 3 runs of 3 on CPU 1's task stack: ret's entry
 * with latch's IST 0, read in two pieces by QEMU's TCG during the switch's store; docs/nmi.md.) */
static enum scenario_result smp_mode_switch_ret(void)
{
    static const enum nmi_strategy cycle[] = {NMI_NAIVE, NMI_NAIVE_RAW, NMI_RET, NMI_NESTED};
    return switch_strategies(cycle, sizeof cycle / sizeof cycle[0]);
}

/* smp-lockup: CPU 2 (or the last) spins with interrupts off; its buddy must notice. */
static volatile bool lockup_reported;
static void after_lockup_report(int tasks, uint64_t nested) { lockup_reported = true; }

__attribute__((noinline)) static void smp_lockup_spin(void *cpu)
{
    interrupts_disable();
    while (!lockup_reported)
        cpu_relax();
    interrupts_enable();
    finish(cpu);
}

static enum scenario_result smp_lockup(void)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    if (!expect(watchdog_running(), "the watchdog is off (watchdog=1 on the command line?)"))
        return SCENARIO_FAIL;
    int victim = cpu_count > 2 ? 2 : 1;
    watchdog_after_report = after_lockup_report;
    printk("# CPU %d spins with interrupts off\n", victim);
    task_create_on(victim, "lockup", smp_lockup_spin, (void *)(uint64_t)victim);
    for (uint64_t start = timer_ticks; !lockup_reported && timer_ticks - start < 10 * TIMER_HZ;)
        task_sleep(1);
    watchdog_after_report = NULL;
    expect(lockup_reported, "no lockup report within 10 s");
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

/* smp-task-churn: tasks made on CPU 0 for the other CPUs, each exiting at once, their slots reused
 * while the CPUs they ran on may still be on their way out. */
#define CHURN_TASKS 3000
static volatile uint64_t churn_ran;

static void churn(void *unused)
{
    __atomic_add_fetch(&churn_ran, 1, __ATOMIC_SEQ_CST);
    task_exit();
}

static enum scenario_result smp_task_churn(void)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    churn_ran = 0;
    uint64_t made = 0, start = timer_ticks;
    while (made < CHURN_TASKS && timer_ticks - start < WAIT_TICKS)
        if (task_create_on(1 + (int)(made % (uint64_t)(cpu_count - 1)), "churn", churn, NULL))
            made++;
        else
            cpu_relax(); /* every slot taken: wait for some to end */
    while (churn_ran < made && timer_ticks - start < WAIT_TICKS)
        task_sleep(1);
    printk("# %lu tasks made, %lu ran, in %lu ticks\n", made, churn_ran, timer_ticks - start);
    expect(made == CHURN_TASKS && churn_ran == made, "%lu of %d tasks made, %lu ran", made, CHURN_TASKS, churn_ran);
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

/* smp-kprobe-churn: the other CPUs call a function while CPU 0 puts a kprobe on it and takes it
 * off again, over and over: a CPU that trapped on the int3 just before it was taken off must go on. */
#define PROBE_ROUNDS 2000
static volatile bool calling;
static volatile uint64_t calls;

static __attribute__((noinline)) void count_call(void) { __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST); }

/* Not a leaf (a leaf has no frame, so no push %rbp to probe), and not a tail call either. */
__attribute__((noinline)) void smp_probed_function(void);
__attribute__((noinline)) void smp_probed_function(void)
{
    count_call();
    __asm__ volatile("" ::: "memory");
}

static void call_probed_function(void *cpu)
{
    while (calling)
        smp_probed_function();
    finish(cpu);
}

static enum scenario_result smp_kprobe_churn(void)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    calling = true;
    calls = 0;
    for (int i = 1; i < cpu_count; i++)
        task_create_on(i, "call-probed", call_probed_function, (void *)(uint64_t)i);
    while (calls < 1000)
        task_sleep(1);
    static struct kprobe probe = {.symbol = "smp_probed_function"};
    uint64_t hits = 0;
    int round = 0;
    for (; round < PROBE_ROUNDS && expect(register_kprobe(&probe) == 0, "round %d: refused", round); round++) {
        for (uint64_t until = calls + 20; calls < until;)
            cpu_relax();
        unregister_kprobe(&probe);
        hits += probe.hits;
    }
    calling = false;
    printk("# %d rounds, %lu calls, %lu of them hit the probe\n", round, calls, hits);
    expect(hits > 0, "the probe was never hit");
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

/* smp-ipi-tear: the runner stops CPU 0 between apic_send_ipi's two xAPIC writes (the destination,
 * then the command that sends) as it sends CPU 1 an NMI, and injects an NMI there, whose handler
 * sends CPU 2 one. If the handler's IPI leaves its destination in the ICR, CPU 0's own IPI goes to
 * CPU 2: CPU 1 never gets it. */
static volatile uint64_t ipi_nmis[CPUS_MAX];
static volatile bool ipi_tear_armed;

static bool ipi_tear_handler(struct trap_frame *frame)
{
    int cpu = this_cpu()->index;
    if (cpu != 0) {
        ipi_nmis[cpu]++;
        return true;
    }
    if (!__atomic_exchange_n(&ipi_tear_armed, false, __ATOMIC_SEQ_CST))
        return false;
    apic_send_nmi(cpus[2].apic_id); /* in the middle of CPU 0's own IPI */
    return true;
}

static enum scenario_result smp_ipi_tear(void)
{
    if (cpu_count < 3) {
        scenario_skip_reason("fewer than 3 CPUs online");
        return SCENARIO_SKIP;
    }
    memset((void *)ipi_nmis, 0, sizeof ipi_nmis);
    register_nmi_handler("ipi-tear", ipi_tear_handler);
    ipi_tear_armed = true;
    if (wait_for_debugger("an NMI between apic_send_ipi's ICR writes"))
        apic_send_nmi(cpus[1].apic_id);
    for (uint64_t start = timer_ticks; timer_ticks - start < TIMER_HZ / 2;)
        task_sleep(1);
    unregister_nmi_handler(ipi_tear_handler);
    printk("# CPU 1 got %lu NMI(s), CPU 2 got %lu\n", ipi_nmis[1], ipi_nmis[2]);
    expect(!ipi_tear_armed, "the NMI between the writes never came");
    expect(ipi_nmis[1] == 1 && ipi_nmis[2] == 1,
           "CPU 0's NMI for CPU 1 went elsewhere: the NMI's own IPI tore it");
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

/* smp-fixup-record: every CPU makes faulting copies through the exception table, and after each
 * reads the record of the fault it was fixed up from: its RSP must be on this task's own stack,
 * not another CPU's. */
#define FIXUP_ROUNDS 20000
#define UNMAPPED_PAGE 0x0000100000000000UL

static void fault_and_read_record(void *cpu)
{
    int index = (int)(uint64_t)cpu;
    uint8_t byte, *source = (uint8_t *)(UNMAPPED_PAGE + (uint64_t)index * 4096);
    for (int i = 0; i < FIXUP_ROUNDS; i++) {
        copy_from_kernel_nofault(&byte, source, 1);
        uint64_t here = (uint64_t)&byte, recorded = fixup_last_fault.rsp;
        if (recorded > here || here - recorded > 4096)
            corrupted[index]++;
    }
    finish(cpu);
}

static enum scenario_result smp_fixup_record(void)
{
    if (!several_cpus())
        return SCENARIO_SKIP;
    memset((void *)corrupted, 0, sizeof corrupted);
    if (!on_every_cpu(fault_and_read_record))
        return SCENARIO_FAIL;
    uint64_t wrong = 0;
    for (int i = 0; i < cpu_count; i++)
        wrong += corrupted[i];
    printk("# %d CPUs, %d fixed-up faults each: %lu records were another CPU's\n", cpu_count,
           FIXUP_ROUNDS, wrong);
    expect(wrong == 0, "the fixup record is shared: a CPU read another's fault");
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

const struct scenario smp_scenarios[] = {
    {"smp-kprobe-churn", smp_kprobe_churn, false},
    {"smp-task-churn", smp_task_churn, false},
    {"smp-boot", smp_boot, true},
    {"nmi-backtrace-all", nmi_backtrace_all, false},
    {"smp-nested-nmi", smp_nested_nmi, false},
    {"smp-storm", smp_storm, false},
    {"smp-lockup", smp_lockup, false},
    {"smp-backtrace-user", smp_backtrace_user, false},
    {"smp-mode-switch", smp_mode_switch, false},
    {"smp-mode-switch-ret", smp_mode_switch_ret, false},
    {"smp-ipi-tear", smp_ipi_tear, false},
    {"smp-fixup-record", smp_fixup_record, false},
    {NULL, NULL, false},
};
