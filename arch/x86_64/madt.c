/* The MADT's entries (include/arch/x86_64/madt.h). A processor entry is started only when it is
 * enabled: "online capable" means it may be hot-added later, and nmilab has no hotplug, so INIT
 * and SIPIs to it would only wait out the timeout. A board may list a CPU twice, in an xAPIC and
 * an x2APIC entry: its APIC ID is kept once, or the same CPU would be started twice. */
#include <arch/x86_64/acpi.h>
#include <arch/x86_64/madt.h>

enum {
    MADT_LOCAL_APIC = 0,
    MADT_IOAPIC = 1,
    MADT_SOURCE_OVERRIDE = 2,
    MADT_LOCAL_APIC_NMI = 4,
    MADT_ADDRESS_OVERRIDE = 5,
    MADT_X2APIC = 9,
};
#define MADT_ENABLED 1u

static void add_cpu(struct apic_board *board, uint32_t apic_id)
{
    unsigned kept = board->cpus_found < MADT_CPUS_MAX ? board->cpus_found : MADT_CPUS_MAX;
    for (unsigned i = 0; i < kept; i++)
        if (board->cpu_apic_ids[i] == apic_id)
            return;
    if (board->cpus_found++ < MADT_CPUS_MAX)
        board->cpu_apic_ids[board->cpus_found - 1] = apic_id;
}

static void read_entry(struct apic_board *board, const uint8_t *entry)
{
    if (entry[0] == MADT_LOCAL_APIC && entry[1] >= 8 && (entry[4] & MADT_ENABLED))
        add_cpu(board, entry[3]);
    if (entry[0] == MADT_X2APIC && entry[1] >= 16 && (entry[8] & MADT_ENABLED))
        add_cpu(board, (uint32_t)acpi_field(entry, 4, 4));
    /* local APIC NMI, for every processor (0xff) or processor 0 */
    if (entry[0] == MADT_LOCAL_APIC_NMI && entry[1] >= 6 && (entry[2] == 0xff || !entry[2]))
        board->nmi_pin = entry[5] & 1;
    if (entry[0] == MADT_ADDRESS_OVERRIDE && entry[1] >= 12)
        board->apic_address = acpi_field(entry, 4, 8);
    /* an override of ISA (bus 0) IRQ 0: the PIT's pin and how it signals */
    if (entry[0] == MADT_SOURCE_OVERRIDE && entry[1] >= 10 && !entry[2] && !entry[3]) {
        board->pit_gsi = (uint32_t)acpi_field(entry, 4, 4);
        board->pit_gsi_flags = (uint16_t)acpi_field(entry, 8, 2);
    }
}

/* The I/O APIC serving the PIT's pin: the one whose first pin is the highest not above it. Known
 * only once every override is read, so in a second pass over the table. */
static void find_pit_ioapic(struct apic_board *board, const uint8_t *entry)
{
    if (entry[0] != MADT_IOAPIC || entry[1] < 12)
        return;
    uint32_t gsi_base = (uint32_t)acpi_field(entry, 8, 4);
    if (gsi_base > board->pit_gsi || (board->ioapic_address && board->ioapic_gsi_base > gsi_base))
        return;
    board->ioapic_address = acpi_field(entry, 4, 4);
    board->ioapic_gsi_base = gsi_base;
}

/* Two passes over the entries (each: type, length, ...) that lie whole inside the table. */
void madt_parse(const uint8_t *madt, uint32_t length, struct apic_board *board)
{
    void (*const passes[2])(struct apic_board *, const uint8_t *) = {read_entry, find_pit_ioapic};
    board->apic_address = acpi_field(madt, 36, 4);
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t offset = 44; offset + 2 <= length && madt[offset + 1] >= 2 &&
                                   offset + madt[offset + 1] <= length; offset += madt[offset + 1])
            passes[pass](board, madt + offset);
}
