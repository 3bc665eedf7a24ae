/* The I/O APIC, just enough to send the PIT's pin to this CPU as an NMI: the watchdog's source on
 * one CPU where the 8259 does not reach LINT0 (Bochs, some boards). The chip has two registers in
 * memory, a selector and a window; each pin has a 64-bit redirection entry behind them (82093AA
 * datasheet, 3.2.4). */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/paging.h>

#define IOAPIC_SELECT 0
#define IOAPIC_WINDOW 4 /* in 32-bit words: byte offset 0x10 */
#define IOAPIC_VERSION 1
#define IOAPIC_REDIRECTION 0x10
#define REDIRECT_NMI (4u << 8)
#define REDIRECT_ACTIVE_LOW (1u << 13)
#define REDIRECT_MASKED (1u << 16)
#define MADT_POLARITY_ACTIVE_LOW 3

static void ioapic_write(volatile uint32_t *ioapic, uint32_t reg, uint32_t value)
{
    ioapic[IOAPIC_SELECT] = reg;
    ioapic[IOAPIC_WINDOW] = value;
}

bool ioapic_route_pit_nmi(bool enabled)
{
    if (!apic_board.ioapic_address || apic_id() > 0xff) /* its destination field has 8 bits */
        return false;
    volatile uint32_t *ioapic = paging_map_device(apic_board.ioapic_address, 0x20, true);
    uint32_t pin = apic_board.pit_gsi - apic_board.ioapic_gsi_base;
    ioapic[IOAPIC_SELECT] = IOAPIC_VERSION;
    if (pin > ((ioapic[IOAPIC_WINDOW] >> 16) & 0xff)) /* the highest entry's number */
        return false;
    /* NMI delivery is edge-triggered whatever the override says; physical destination: us. */
    uint32_t low = REDIRECT_NMI;
    if (!enabled)
        low |= REDIRECT_MASKED;
    if ((apic_board.pit_gsi_flags & 3) == MADT_POLARITY_ACTIVE_LOW)
        low |= REDIRECT_ACTIVE_LOW;
    ioapic_write(ioapic, IOAPIC_REDIRECTION + 2 * pin, REDIRECT_MASKED);
    ioapic_write(ioapic, IOAPIC_REDIRECTION + 2 * pin + 1, apic_id() << 24);
    ioapic_write(ioapic, IOAPIC_REDIRECTION + 2 * pin, low);
    return true;
}
