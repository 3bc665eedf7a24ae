/* Clock calibration and the scheduler tick. The PIT (8254) runs at a known 1.193182 MHz; its
 * channel 2 can be started and watched without interrupts (through port 0x61), so it times a
 * 5 ms window in which the TSC and the APIC timer are read. An NMI (or an SMI, on a PC) inside
 * the window makes the CPU notice its end late, and the window looks longer in TSC ticks: of
 * several windows, the shortest is the one nothing interrupted. */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <kernel/printk.h>
#include <kernel/task.h>

#define PIT_HZ 1193182
#define PIT_CHANNEL0 0x40
#define PIT_CHANNEL2 0x42
#define PIT_COMMAND 0x43
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20
#define CALIBRATION_MS 5
#define CALIBRATION_WINDOWS 5

volatile uint64_t timer_ticks;
uint64_t tsc_khz;

void udelay(uint64_t microseconds)
{
    uint64_t end = rdtsc() + microseconds * tsc_khz / 1000;
    while (rdtsc() < end)
        cpu_relax();
}

static uint16_t pit_reload_value;

void pit_start_periodic(unsigned hz)
{
    pit_reload_value = (uint16_t)(PIT_HZ / hz);
    outb(PIT_COMMAND, 0x34); /* channel 0, low then high byte, mode 2 (rate generator) */
    outb(PIT_CHANNEL0, pit_reload_value & 0xff);
    outb(PIT_CHANNEL0, pit_reload_value >> 8);
}

uint16_t pit_reload(void) { return pit_reload_value; }

uint16_t pit_count(void)
{
    outb(PIT_COMMAND, 0x00); /* latch channel 0's count, then read it low byte first */
    uint8_t low = inb(PIT_CHANNEL0);
    return (uint16_t)(low | inb(PIT_CHANNEL0) << 8);
}

static bool timer_tick(struct trap_frame *frame)
{
    timer_ticks++;
    apic_eoi();
    task_tick(); /* may switch to another task; we come back here when this one runs again */
    return true;
}

/* One window: TSC ticks and APIC timer counts in CALIBRATION_MS of the PIT (0 if it never ended). */
static uint64_t measure(uint32_t *apic_elapsed)
{
    uint16_t count = PIT_HZ * CALIBRATION_MS / 1000;
    uint8_t port_b = (inb(PORT_B) & ~(PORT_B_SPEAKER | PORT_B_GATE2));
    outb(PORT_B, port_b);                /* gate low: channel 2 stopped, speaker off */
    outb(PIT_COMMAND, 0xb0);             /* channel 2, low then high byte, mode 0 (count down once) */
    outb(PIT_CHANNEL2, count & 0xff);
    outb(PIT_CHANNEL2, count >> 8);
    apic_timer_start(0xffffffff, 0, false);
    uint32_t apic_start = apic_timer_current();
    uint64_t tsc_start = rdtsc();
    outb(PORT_B, port_b | PORT_B_GATE2); /* gate high: counting starts; OUT2 goes high at zero */
    for (uint64_t spins = 0; !(inb(PORT_B) & PORT_B_OUT2) && spins < 100000000; spins++)
        cpu_relax();
    uint64_t tsc_elapsed = rdtsc() - tsc_start;
    *apic_elapsed = apic_start - apic_timer_current();
    return inb(PORT_B) & PORT_B_OUT2 ? tsc_elapsed : 0;
}

void timer_init(void)
{
    uint64_t best_tsc = 0;
    uint32_t best_apic = 0;
    for (int i = 0; i < CALIBRATION_WINDOWS; i++) {
        uint32_t apic_elapsed;
        uint64_t tsc_elapsed = measure(&apic_elapsed);
        if (!tsc_elapsed)
            break; /* the PIT does not count */
        if (!best_tsc || tsc_elapsed < best_tsc)
            best_tsc = tsc_elapsed, best_apic = apic_elapsed;
    }
    tsc_khz = best_tsc / CALIBRATION_MS;
    uint32_t apic_per_tick = best_apic / CALIBRATION_MS * (1000 / TIMER_HZ);
    if (!tsc_khz || !apic_per_tick) {
        printk("timer: the PIT did not count (no 8254?); assuming a 1 GHz TSC and no timer tick\n");
        tsc_khz = 1000000;
        return;
    }
    trap_register(VECTOR_TIMER, timer_tick);
    apic_timer_start(apic_per_tick, VECTOR_TIMER, true);
    printk("timer: TSC %lu MHz, APIC timer %u counts per %d ms tick (measured against the PIT)\n", tsc_khz / 1000,
           apic_per_tick, 1000 / TIMER_HZ);
}
