/* Clock calibration and the scheduler tick. The PIT (8254) runs at a known 1.193182 MHz; its
 * channel 2 can be started and read without interrupts (gated through port 0x61). Calibration
 * reads the PIT, the TSC and the APIC timer together at the start and at the end of a 10 ms
 * stretch. An NMI (or an SMI, on a PC) between the two readings changes nothing; one in the middle
 * of a reading makes that reading slow, and so of several tries the fastest one is kept. (Timing
 * a window by waiting for the PIT to run out is not safe: an NMI there makes the CPU notice the
 * end late, and the TSC looks faster than it is.) */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <kernel/panic.h>
#include <kernel/printk.h>

#define PIT_HZ 1193182
#define PIT_CHANNEL0 0x40
#define PIT_CHANNEL2 0x42
#define PIT_COMMAND 0x43
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define CALIBRATION_PIT_COUNTS (PIT_HZ / 100) /* 10 ms */
#define SAMPLE_TRIES 8
#define TICK_HOOKS_MAX 4

volatile uint64_t timer_ticks;
volatile uint64_t timer_cpu_ticks[CPUS_MAX];
static timer_tick_hook tick_hooks[TICK_HOOKS_MAX];
static int tick_hook_count;
uint64_t tsc_khz;

void udelay(uint64_t microseconds)
{
    uint64_t end = rdtsc() + microseconds * tsc_khz / 1000;
    while (rdtsc() < end)
        cpu_relax();
}

void pit_start_periodic(unsigned hz)
{
    uint16_t reload = (uint16_t)(PIT_HZ / hz);
    outb(PIT_COMMAND, 0x34); /* channel 0, low then high byte, mode 2 (rate generator) */
    outb(PIT_CHANNEL0, reload & 0xff);
    outb(PIT_CHANNEL0, reload >> 8);
}

static uint32_t apic_per_tick;

void timer_register_tick_hook(timer_tick_hook hook)
{
    if (tick_hook_count == TICK_HOOKS_MAX)
        panic("timer: more than %d tick hooks", TICK_HOOKS_MAX);
    tick_hooks[tick_hook_count++] = hook;
}

static bool timer_tick(struct trap_frame *frame)
{
    struct cpu *cpu = this_cpu();
    timer_cpu_ticks[cpu->index]++;
    if (cpu->index == 0)
        timer_ticks++; /* the kernel's clock: CPU 0's ticks */
    apic_eoi();
    for (int i = 0; i < tick_hook_count; i++)
        tick_hooks[i](); /* the last may switch tasks; we come back here when this one runs again */
    return true;
}

struct clock_sample {
    uint64_t tsc; /* the middle of the reading */
    uint16_t pit;
    uint32_t apic;
};

/* The PIT's channel 2 and the APIC timer read back to back, bracketed by TSC reads; of several
 * tries, the one with the narrowest bracket. */
static struct clock_sample clock_sample(void)
{
    struct clock_sample best = {0};
    uint64_t best_width = ~0UL;
    for (int i = 0; i < SAMPLE_TRIES; i++) {
        uint64_t before = rdtsc();
        outb(PIT_COMMAND, 0x80); /* latch channel 2's count */
        uint8_t low = inb(PIT_CHANNEL2);
        uint16_t pit = (uint16_t)(low | inb(PIT_CHANNEL2) << 8);
        uint32_t apic = apic_timer_current();
        uint64_t after = rdtsc();
        if (after - before < best_width) {
            best_width = after - before;
            best = (struct clock_sample){before + (after - before) / 2, pit, apic};
        }
    }
    return best;
}

/* The tick on this CPU: every CPU's APIC timer runs at the same rate (measured once, on CPU 0). */
void timer_start_this_cpu(void)
{
    if (apic_per_tick)
        apic_timer_start(apic_per_tick, VECTOR_TIMER, true);
}

void timer_init(void)
{
    uint8_t port_b = (inb(PORT_B) & ~(PORT_B_SPEAKER | PORT_B_GATE2));
    outb(PORT_B, port_b | PORT_B_GATE2); /* channel 2 counts while its gate is high; speaker off */
    /* channel 2, low then high byte, mode 0: counts down from 0xffff, 55 ms, longer than the
     * 10 ms we need */
    outb(PIT_COMMAND, 0xb0);
    outb(PIT_CHANNEL2, 0xff);
    outb(PIT_CHANNEL2, 0xff);
    apic_timer_start(0xffffffff, 0, false);
    struct clock_sample start = clock_sample(), end = start;
    for (uint64_t spins = 0; spins < 10000000; spins++) {
        if ((uint16_t)(start.pit - end.pit) >= CALIBRATION_PIT_COUNTS)
            break;
        end = clock_sample();
    }
    outb(PORT_B, port_b);
    uint64_t pit_counts = (uint16_t)(start.pit - end.pit);
    tsc_khz = pit_counts ? (end.tsc - start.tsc) * (PIT_HZ / 1000) / pit_counts : 0;
    uint64_t apic_counts = start.apic - end.apic;
    apic_per_tick = pit_counts ? (uint32_t)(apic_counts * (PIT_HZ / TIMER_HZ) / pit_counts) : 0;
    if (!tsc_khz || !apic_per_tick) {
        printk("timer: the PIT did not count (no 8254?); assuming a 1 GHz TSC and no timer tick\n");
        tsc_khz = 1000000;
        return;
    }
    trap_register(VECTOR_TIMER, timer_tick);
    timer_start_this_cpu();
    printk("timer: TSC %lu MHz, APIC timer %u counts per %d ms tick (measured against the PIT)\n",
           tsc_khz / 1000, apic_per_tick, 1000 / TIMER_HZ);
}
