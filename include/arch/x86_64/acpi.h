/* Finding ACPI tables from the RSDP that GRUB hands over. */
#pragma once
#include <stdint.h>

struct acpi_table_header {
    char signature[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem_id[6], oem_table_id[8];
    uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

void acpi_init(const void *rsdp, unsigned revision);
const struct acpi_table_header *acpi_map_table(uint64_t address); /* its header, then all of it */
/* The first table with this signature ("APIC", "FACP", ...) whose checksum is right, or NULL. */
const struct acpi_table_header *acpi_find_table(const char signature[4]);

/* The size-byte field at offset in an ACPI structure: little-endian, and not always aligned. */
static inline uint64_t acpi_field(const void *table, unsigned offset, unsigned size)
{
    uint64_t value = 0;
    for (unsigned i = size; i-- > 0;)
        value = value << 8 | ((const uint8_t *)table)[offset + i];
    return value;
}
