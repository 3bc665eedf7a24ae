/* The 8259 pair. The BIOS leaves the master on vectors 8-15, on top of the CPU's exceptions: the
 * first timer interrupt after `sti` would look like a double fault. Reinitialise both on
 * PIC_VECTOR_BASE and mask every line. A masked PIC can still raise a spurious IRQ 7 or 15:
 * those are ignored. Any other IRQ arriving as an interrupt means the board delivers the PIC
 * straight to the CPU, not through LINT0 (where the watchdog asked for NMI delivery): it is
 * acknowledged, counted and reported once, never fatal. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/pic.h>
#include <arch/x86_64/traps.h>
#include <kernel/printk.h>

#define MASTER_COMMAND 0x20
#define MASTER_DATA 0x21
#define SLAVE_COMMAND 0xa0
#define SLAVE_DATA 0xa1
#define ICW1_INIT_WITH_ICW4 0x11
#define ICW4_8086 0x01
#define OCW3_POLL 0x0c
#define COMMAND_EOI 0x20

static uint64_t stray_interrupts; /* IRQs that came as interrupts, not through LINT0 */

static bool stray(struct trap_frame *frame)
{
    unsigned irq = (unsigned)frame->vector - PIC_VECTOR_BASE;
    if (irq == 7 || irq == 15)
        return true; /* spurious: no EOI for those */
    if (irq >= 8)
        outb(SLAVE_COMMAND, COMMAND_EOI);
    outb(MASTER_COMMAND, COMMAND_EOI);
    if (stray_interrupts++ == 0)
        printk("pic: IRQ %u arrived as an ordinary interrupt (vector %u):"
               " this board does not send the 8259 through LINT0; counted, reported once\n",
               irq, (unsigned)frame->vector);
    return true;
}

void pic_init(void)
{
    outb(MASTER_COMMAND, ICW1_INIT_WITH_ICW4);
    outb(SLAVE_COMMAND, ICW1_INIT_WITH_ICW4);
    outb(MASTER_DATA, PIC_VECTOR_BASE);
    outb(SLAVE_DATA, PIC_VECTOR_BASE + 8);
    outb(MASTER_DATA, 1 << 2); /* the slave hangs on IRQ 2 */
    outb(SLAVE_DATA, 2);
    outb(MASTER_DATA, ICW4_8086);
    outb(SLAVE_DATA, ICW4_8086);
    outb(MASTER_DATA, 0xff);
    outb(SLAVE_DATA, 0xff);
    for (unsigned irq = 0; irq < 16; irq++)
        trap_register(PIC_VECTOR_BASE + irq, stray);
}

void pic_unmask_timer(void) { outb(MASTER_DATA, 0xfe); }
void pic_mask_timer(void) { outb(MASTER_DATA, 0xff); }

bool pic_take_timer_interrupt(void)
{
    outb(MASTER_COMMAND, OCW3_POLL);
    uint8_t poll = inb(MASTER_COMMAND); /* bit 7: an interrupt was pending; bits 0-2: which */
    if (!(poll & 0x80))
        return false;
    outb(MASTER_COMMAND, COMMAND_EOI);
    return (poll & 7) == 0;
}
