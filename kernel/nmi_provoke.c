/* Provoking NMIs on purpose, and exceptions inside their handler: include/kernel/nmi_provoke.h. */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <kernel/nmi.h>
#include <kernel/nmi_provoke.h>
#include <kernel/printk.h>

#define SPIN_LIMIT 400000000UL

volatile uint64_t self_pending, self_sent, self_claimed;
volatile uint64_t provoke_passes, provoke_faults, int3_hits, external_claimed;
static volatile uint64_t *const provoke_counters[] = {&self_pending, &self_sent, &self_claimed,
    &provoke_passes, &provoke_faults, &int3_hits, &external_claimed}; /* from 0 at each start */
void (*pass_action)(uint64_t pass); /* what runs inside each handler pass */
static bool claim_external;         /* claim passes with no self-NMI as external NMIs */
static struct nmi_cpu_state baseline;

void send_self_nmi(void)
{
    self_sent++;
    __atomic_add_fetch(&self_pending, 1, __ATOMIC_SEQ_CST);
    apic_send_self_nmi();
}

static bool provoked_nmi_handler(struct trap_frame *frame)
{
    uint64_t mine = __atomic_exchange_n(&self_pending, 0, __ATOMIC_SEQ_CST);
    self_claimed += mine;
    provoke_passes++;
    if (pass_action)
        pass_action(provoke_passes);
    if (!mine && claim_external) {
        external_claimed++;
        return true;
    }
    return mine != 0;
}

void nmi_provoke_fault(uint64_t address)
{
    uint64_t value;
    if (copy_from_kernel_nofault(&value, (const void *)address, sizeof value))
        provoke_faults++;
}

static bool count_int3(struct trap_frame *frame)
{
    int3_hits++;
    return true;
}

/* The int3 has a label of its own, so that the hook (and a test runner) can name its address. */
__attribute__((noinline)) void nmi_provoke_int3(void)
{
    __asm__ volatile(".globl provoked_int3\nprovoked_int3: int3");
}
extern char provoked_int3[];

bool spin_until(volatile uint64_t *value, uint64_t at_least)
{
    for (uint64_t i = 0; i < SPIN_LIMIT; i++) {
        if (*value >= at_least && !nmi_this_cpu()->in_handler)
            return true;
        cpu_relax();
    }
    return false;
}

bool nmi_provoke_start(void (*action)(uint64_t pass), bool external)
{
    if (!apic_ready())
        return false;
    for (unsigned i = 0; i < sizeof provoke_counters / sizeof provoke_counters[0]; i++)
        *provoke_counters[i] = 0;
    pass_action = action;
    claim_external = external;
    baseline = *nmi_this_cpu();
    register_int3_hook((uint64_t)provoked_int3, count_int3);
    register_nmi_handler("provoked", provoked_nmi_handler);
    return true;
}

void nmi_provoke_stop(void)
{
    const struct nmi_cpu_state *now = nmi_this_cpu();
    unregister_nmi_handler(provoked_nmi_handler);
    unregister_int3_hook((uint64_t)provoked_int3);
    pass_action = NULL;
    printk("# nmi counters: entries %lu nested %lu passes %lu extra passes %lu unknown %lu;"
           " self-NMIs sent %lu claimed %lu; faults %lu int3 %lu external %lu\n",
           now->entries - baseline.entries, now->nested - baseline.nested,
           now->passes - baseline.passes, nmi_extra_passes(now) - nmi_extra_passes(&baseline),
           now->unknown - baseline.unknown, self_sent, self_claimed, provoke_faults, int3_hits,
           external_claimed);
}

void fault_with_nmi_pending(uint64_t pass)
{
    if (pass == 1) {
        send_self_nmi();
        nmi_provoke_fault(NMI_FAULT_ADDRESS);
    }
}

void int3_with_nmi_pending(uint64_t pass)
{
    if (pass == 1) {
        send_self_nmi();
        nmi_provoke_int3();
    }
}
