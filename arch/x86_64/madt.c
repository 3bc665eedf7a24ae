/* The MADT's entries (include/arch/x86_64/madt.h). A processor entry is started only when it is
 * enabled: "online capable" means it may be hot-added later, and nmilab has no hotplug, so INIT
 * and SIPIs to it would only wait out the timeout. A board may list a CPU twice, in an xAPIC and
 * an x2APIC entry: its APIC ID is kept once, or the same CPU would be started twice. */
#include <arch/x86_64/madt.h>
#include <stdbool.h>

enum { MADT_LOCAL_APIC = 0, MADT_LOCAL_APIC_NMI = 4, MADT_ADDRESS_OVERRIDE = 5, MADT_X2APIC = 9 };
#define MADT_ENABLED 1u

static uint32_t read32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void add_cpu(struct apic_board *board, uint32_t apic_id)
{
    unsigned kept = board->cpus_found < MADT_CPUS_MAX ? board->cpus_found : MADT_CPUS_MAX;
    for (unsigned i = 0; i < kept; i++)
        if (board->cpu_apic_ids[i] == apic_id)
            return;
    if (board->cpus_found++ < MADT_CPUS_MAX)
        board->cpu_apic_ids[board->cpus_found - 1] = apic_id;
}

void madt_parse(const uint8_t *madt, uint32_t length, struct apic_board *board)
{
    board->apic_address = read32(madt + 36);
    for (uint32_t offset = 44; offset + 2 <= length && madt[offset + 1] >= 2;
         offset += madt[offset + 1]) { /* each entry: type, length, ... */
        const uint8_t *entry = madt + offset;
        if (offset + entry[1] > length)
            break;
        if (entry[0] == MADT_LOCAL_APIC && entry[1] >= 8 && (entry[4] & MADT_ENABLED))
            add_cpu(board, entry[3]);
        if (entry[0] == MADT_X2APIC && entry[1] >= 16 && (entry[8] & MADT_ENABLED))
            add_cpu(board, read32(entry + 4));
        /* local APIC NMI, for every processor (0xff) or processor 0 */
        if (entry[0] == MADT_LOCAL_APIC_NMI && entry[1] >= 6 && (entry[2] == 0xff || !entry[2]))
            board->nmi_pin = entry[5] & 1;
        if (entry[0] == MADT_ADDRESS_OVERRIDE && entry[1] >= 12)
            board->apic_address = read32(entry + 4) | (uint64_t)read32(entry + 8) << 32;
    }
}
