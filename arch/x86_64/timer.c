/* Clock calibration and the scheduler tick. The PIT (8254) runs at a known 1.193182 MHz; its
 * channel 2 can be started and read without interrupts (gated through port 0x61). Where it does
 * not count, another reference clock stands in (reference_clocks.c). Calibration reads the
 * reference, the TSC and the APIC timer together at the start and at the end of a 10 ms
 * stretch. An NMI (or an SMI, on a PC) between the two readings changes nothing; one in the middle
 * of a reading makes that reading slow, and so of several tries the fastest one is kept. (Timing
 * a window by waiting for the clock to run out is not safe: an NMI there makes the CPU notice the
 * end late, and the TSC looks faster than it is.) */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <kernel/printk.h>

#define PIT_CHANNEL0 0x40
#define PIT_CHANNEL2 0x42
#define PIT_COMMAND 0x43
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define SAMPLE_TRIES 8
#define SAMPLES_TO_MOVE 64
#define SAMPLES_MAX 20000

volatile uint64_t timer_cpu_ticks[CPUS_MAX];
static timer_tick_hook tick_hook;
uint64_t tsc_khz;
bool timer_ticking;

void udelay(uint64_t microseconds)
{
    uint64_t end = rdtsc() + microseconds * tsc_khz / 1000;
    while (rdtsc() < end)
        cpu_relax();
}

uint16_t pit_reload;

void pit_start_periodic(unsigned hz)
{
    pit_reload = (uint16_t)(PIT_HZ / hz);
    outb(PIT_COMMAND, 0x34); /* channel 0, low then high byte, mode 2 (rate generator) */
    outb(PIT_CHANNEL0, pit_reload & 0xff);
    outb(PIT_CHANNEL0, pit_reload >> 8);
}

uint16_t pit_count(unsigned channel)
{
    outb(PIT_COMMAND, (uint8_t)(channel << 6)); /* latch the channel's count */
    uint8_t low = inb(PIT_CHANNEL0 + channel);
    return (uint16_t)(low | inb(PIT_CHANNEL0 + channel) << 8);
}

static uint32_t apic_per_tick;

void timer_register_tick_hook(timer_tick_hook hook) { tick_hook = hook; }

static bool timer_tick(struct trap_frame *frame)
{
    timer_cpu_ticks[this_cpu()->index]++;
    apic_eoi();
    if (tick_hook)
        tick_hook(); /* it may switch tasks; we come back here when this one runs again */
    return true;
}

struct clock_sample {
    uint64_t tsc; /* the middle of the reading */
    uint64_t reference;
    uint32_t apic;
};

/* The reference clock and the APIC timer read back to back, bracketed by TSC reads; of several
 * tries, the one with the narrowest bracket. */
static struct clock_sample clock_sample(const struct reference_clock *clock)
{
    struct clock_sample best = {0};
    uint64_t best_width = ~0UL;
    for (int i = 0; i < SAMPLE_TRIES; i++) {
        uint64_t before = rdtsc();
        uint64_t reference = clock->read();
        uint32_t apic = apic_timer_current();
        uint64_t after = rdtsc();
        if (after - before < best_width) {
            best_width = after - before;
            best = (struct clock_sample){before + (after - before) / 2, reference, apic};
        }
    }
    return best;
}

/* Sets tsc_khz and apic_per_tick from a 10 ms stretch of the clock; false if it did not count.
 * Bounded whatever the clock does: it must move within every SAMPLES_TO_MOVE samples
 * (microseconds for any of these clocks) and never step back (a step of over half its range),
 * and the stretch ends after SAMPLES_MAX samples (well under a second) anyway. */
static bool calibrate_against(const struct reference_clock *clock)
{
    apic_timer_start(0xffffffff, 0, false);
    struct clock_sample start = clock_sample(clock), end = start;
    uint64_t counted = 0, last = start.reference;
    for (int i = 0, moved = 0; i < SAMPLES_MAX && counted < clock->hz / 100; i++) {
        end = clock_sample(clock);
        uint64_t step = (end.reference - last) & clock->mask;
        if (step > clock->mask / 2 || i - moved > SAMPLES_TO_MOVE)
            return false;
        if (step)
            moved = i;
        counted += step;
        last = end.reference;
    }
    if (counted < clock->hz / 100)
        return false;
    uint64_t khz = (end.tsc - start.tsc) * (clock->hz / 1000) / counted;
    uint64_t per_tick = (start.apic - end.apic) * (clock->hz / TIMER_HZ) / counted;
    if (!khz || !per_tick || per_tick > UINT32_MAX)
        return false;
    tsc_khz = khz;
    apic_per_tick = (uint32_t)per_tick;
    return true;
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
    struct reference_clock clock = {0};
    bool calibrated = false;
    for (int i = 0; reference_clocks[i] && !calibrated; i++) {
        if (!reference_clocks[i](&clock))
            continue;
        calibrated = calibrate_against(&clock);
        if (!calibrated)
            printk("timer: %s did not count\n", clock.name);
    }
    outb(PORT_B, port_b);
    if (!calibrated) {
        printk("timer: no clock to measure against; assuming a 1 GHz TSC and no timer tick\n");
        tsc_khz = 1000000;
        return;
    }
    trap_register(VECTOR_TIMER, timer_tick);
    timer_ticking = true;
    timer_start_this_cpu();
    printk("timer: TSC %lu MHz, APIC timer %u counts per %d ms tick (measured against %s)\n",
           tsc_khz / 1000, apic_per_tick, 1000 / TIMER_HZ, clock.name);
}
