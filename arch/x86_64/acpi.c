/* ACPI table lookup (ACPI specification, chapter 5.2). The RSDP points at the RSDT (32-bit table
 * addresses) and, from ACPI 2.0 on, the XSDT (64-bit addresses); prefer the XSDT when present.
 * Tables are read in place: firmware keeps them below 4 GiB on the machines we target, and
 * paging_map_device makes sure of it for each one we touch. */
#include <arch/x86_64/acpi.h>
#include <arch/x86_64/paging.h>
#include <kernel/printk.h>
#include <kernel/string.h>

static const struct acpi_table_header *root;
static unsigned entry_size; /* 4 for the RSDT, 8 for the XSDT */

const struct acpi_table_header *acpi_map_table(uint64_t address)
{
    const struct acpi_table_header *table = paging_map_device(address, sizeof *table, false);
    return paging_map_device(address, table->length, false);
}

static int checksum_ok(const void *data, uint32_t length)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < length; i++)
        sum += ((const uint8_t *)data)[i];
    return sum == 0;
}

void acpi_init(const void *rsdp, unsigned revision)
{
    if (!rsdp) {
        printk("acpi: no RSDP from the boot loader; ACPI power-off and the MADT are unavailable\n");
        return;
    }
    entry_size = revision >= 2 && acpi_field(rsdp, 24, 8) ? 8 : 4; /* the XSDT's address, or 0 */
    root = acpi_map_table(acpi_field(rsdp, entry_size == 8 ? 24 : 16, entry_size));
    if (!checksum_ok(root, root->length)) {
        printk("acpi: the %s checksum is wrong; ignoring ACPI\n",
               entry_size == 8 ? "XSDT" : "RSDT");
        root = NULL;
    }
}

const struct acpi_table_header *acpi_find_table(const char signature[4])
{
    if (!root)
        return NULL;
    unsigned count = (root->length - sizeof *root) / entry_size;
    for (unsigned i = 0; i < count; i++) {
        uint64_t address = acpi_field(root + 1, i * entry_size, entry_size);
        const struct acpi_table_header *table = acpi_map_table(address);
        if (!memcmp(table->signature, signature, 4) && checksum_ok(table, table->length))
            return table;
    }
    return NULL;
}
