/* The kernel's side of `make bench` (tests/bench.py): what it counts in an execution trace, and
 * the rates it compares between the NMI strategies. The strategy is the one nmi= chose at boot;
 * nothing here names one, so a strategy the kernel gains is measured without a change here. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/timer.h>
#include <kernel/nmi.h>
#include <kernel/nmi_provoke.h>
#include <kernel/printk.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>

#define RFLAGS_IF (1UL << 9)
#define RATE_ROUNDS 9             /* an odd number: the median is one of them */
#define FAULTS_PER_ROUND 50000    /* 450000 in all; a round takes some 25 ms under TCG */
#define NMIS_PER_ROUND 20000

/* nmi-bench: one NMI with nothing nested, then (except under naive) one whose handler faults
 * with another NMI pending, then a fixed-up page fault and an int3 with no NMI running (the exit
 * every exception takes): bench.py counts the instructions of each in a QEMU execution trace.
 * The exceptions come last: one before the NMIs would leave CR2 as the nested one's fault sets
 * it, and the NMI path would skip its CR2 restore (make bench's NMI figures would change). */
static enum scenario_result nmi_bench(void)
{
    /* Not scenario_nmi_start: its pass watchers (for the graders) would be counted in the path. */
    if (!nmi_provoke_start(NULL, false)) {
        scenario_skip_reason("no local APIC: cannot send NMIs");
        return SCENARIO_SKIP;
    }
    printk("# bench: one NMI, not nested\n");
    send_self_nmi();
    spin_until(&self_claimed, 1);
    if (nmi_current_strategy() != NMI_NAIVE && nmi_current_strategy() != NMI_NAIVE_RAW) {
        printk("# bench: one NMI with a nested NMI\n");
        pass_action = fault_with_nmi_pending;
        provoke_passes = 0;
        send_self_nmi();
        spin_until(&self_claimed, 3);
    }
    uint64_t faults = provoke_faults;
    printk("# bench: a fixed-up page fault and an int3, no NMI running\n");
    /* With interrupts off: a tick pending when an exception's iretq sets IF again would come in
     * before the next instruction, and be counted in the exception's path. */
    bool interrupts_were_on = read_rflags() & RFLAGS_IF;
    interrupts_disable();
    nmi_provoke_fault(NMI_FAULT_ADDRESS);
    nmi_provoke_int3();
    if (interrupts_were_on)
        interrupts_enable();
    expect(provoke_faults == faults + 1 && int3_hits == 1, "%lu faults and %lu int3 hits, not "
           "1 and 1", provoke_faults - faults, int3_hits);
    nmi_provoke_stop();
    expect(self_claimed == self_sent, "%lu of %lu self-NMIs handled", self_claimed, self_sent);
    return SCENARIO_PASS;
}

/* TSC ticks for one round of fixed-up page faults, each the whole way through the #PF entry, the
 * exception table and the exit, with interrupts off so that no tick (or task) is timed too. */
static uint64_t fault_round(void)
{
    uint64_t start = rdtsc();
    for (int i = 0; i < FAULTS_PER_ROUND; i++)
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
    return rdtsc() - start;
}

/* The same for self-NMIs, one at a time: each sent, taken and claimed before the next. */
static uint64_t nmi_round(void)
{
    uint64_t start = rdtsc();
    for (int i = 0; i < NMIS_PER_ROUND; i++) {
        send_self_nmi();
        spin_until(&self_claimed, self_sent);
    }
    return rdtsc() - start;
}

static void print_rate(const char *what, int round, uint64_t events, uint64_t ticks)
{
    uint64_t per_second = ticks ? events * tsc_khz * 1000 / ticks : 0;
    printk("# bench-rate: nmi=%s %s round %d: %lu in %lu TSC ticks: %lu per second\n",
           nmi_strategy_name(nmi_current_strategy()), what, round, events, ticks, per_second);
}

/* nmi-bench-rates: page faults and NMIs handled per second under this boot's strategy, in
 * RATE_ROUNDS rounds of each (bench.py takes the median). Under TCG the rates say little about a
 * real CPU; between strategies, booted on the same machine, they compare the paths. */
static enum scenario_result nmi_bench_rates(void)
{
    if (!tsc_khz) {
        scenario_skip_reason("the TSC was not measured: no clock to time with");
        return SCENARIO_SKIP;
    }
    if (!nmi_provoke_start(NULL, false)) {
        scenario_skip_reason("no local APIC: cannot send NMIs");
        return SCENARIO_SKIP;
    }
    bool interrupts_were_on = read_rflags() & RFLAGS_IF;
    for (int round = 1; round <= RATE_ROUNDS; round++) {
        interrupts_disable();
        uint64_t fault_ticks = fault_round(), nmi_ticks = nmi_round();
        if (interrupts_were_on)
            interrupts_enable();
        print_rate("page faults", round, FAULTS_PER_ROUND, fault_ticks);
        print_rate("NMIs", round, NMIS_PER_ROUND, nmi_ticks);
    }
    nmi_provoke_stop();
    expect(provoke_faults == RATE_ROUNDS * FAULTS_PER_ROUND, "%lu of %d page faults fixed up",
           provoke_faults, RATE_ROUNDS * FAULTS_PER_ROUND);
    expect(self_claimed == self_sent && self_sent == RATE_ROUNDS * NMIS_PER_ROUND,
           "%lu of %lu self-NMIs handled", self_claimed, self_sent);
    return SCENARIO_PASS;
}

const struct scenario bench_scenarios[] = {
    {"nmi-bench", nmi_bench, false},
    {"nmi-bench-rates", nmi_bench_rates, false},
    {0},
};
