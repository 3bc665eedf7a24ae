#include <arch/x86_64/madt.h>
#include <stdint.h>
#include <stdlib.h>
#include "unit.h"

/* Builds a MADT entry by entry, then copies it into a heap block of exactly its length, so that
 * AddressSanitizer catches any read past the end. */
static uint8_t table[1024];
static uint32_t length;

static void start(uint32_t apic_address)
{
    memset(table, 0, sizeof table);
    memcpy(table, "APIC", 4);
    memcpy(table + 36, &apic_address, 4);
    length = 44;
}
static uint8_t *entry(uint8_t type, uint8_t size)
{
    uint8_t *e = table + length;
    e[0] = type;
    e[1] = size;
    length += size;
    return e;
}
static void local_apic(uint8_t id, uint8_t flags)
{
    uint8_t *e = entry(0, 8);
    e[2] = id; /* the processor's ACPI ID: any */
    e[3] = id;
    e[4] = flags;
}
static void x2apic(uint32_t id, uint8_t flags)
{
    uint8_t *e = entry(9, 16);
    memcpy(e + 4, &id, 4);
    e[8] = flags;
}
static struct apic_board parse(void)
{
    memcpy(table + 4, &length, 4);
    uint8_t *block = malloc(length);
    memcpy(block, table, length);
    struct apic_board board = {.nmi_pin = 1};
    madt_parse(block, length, &board);
    free(block);
    return board;
}

static void test_enabled_cpus(void)
{
    start(0xfee00000);
    local_apic(0, 1);
    local_apic(1, 1);
    x2apic(300, 1);
    struct apic_board b = parse();
    CHECK(b.cpus_found == 3);
    CHECK(b.cpu_apic_ids[0] == 0 && b.cpu_apic_ids[1] == 1 && b.cpu_apic_ids[2] == 300);
    CHECK(b.apic_address == 0xfee00000 && b.nmi_pin == 1);
}

static void test_disabled_and_online_capable_skipped(void)
{
    start(0xfee00000);
    local_apic(0, 1);
    local_apic(1, 0); /* disabled */
    local_apic(2, 2); /* online capable only: a CPU that may be hot-added later */
    x2apic(3, 2);
    struct apic_board b = parse();
    CHECK(b.cpus_found == 1 && b.cpu_apic_ids[0] == 0);
}

static void test_same_cpu_listed_twice(void)
{
    start(0xfee00000);
    local_apic(0, 1);
    local_apic(1, 1);
    x2apic(1, 1); /* CPU 1 again, as an x2APIC entry */
    x2apic(0, 1);
    struct apic_board b = parse();
    CHECK(b.cpus_found == 2);
    CHECK(b.cpu_apic_ids[0] == 0 && b.cpu_apic_ids[1] == 1);
}

static void test_more_cpus_than_kept(void)
{
    start(0xfee00000);
    for (int i = 0; i < MADT_CPUS_MAX + 3; i++)
        local_apic((uint8_t)i, 1);
    local_apic(2, 1); /* a repeat beyond the kept ones is still a repeat */
    struct apic_board b = parse();
    CHECK(b.cpus_found == MADT_CPUS_MAX + 3);
    CHECK(b.cpu_apic_ids[MADT_CPUS_MAX - 1] == MADT_CPUS_MAX - 1);
}

static void test_nmi_pin_override_and_bad_entries(void)
{
    start(0xfee00000);
    local_apic(0, 1);
    uint8_t *nmi = entry(4, 6);
    nmi[2] = 0xff; /* every processor */
    nmi[5] = 0;    /* LINT0 */
    uint8_t *override = entry(5, 12);
    uint64_t address = 0x1fee00000ULL;
    memcpy(override + 4, &address, 8);
    uint8_t *runaway = entry(0, 8);
    runaway[1] = 200; /* an entry that claims to run past the table's end: ignored */
    runaway[4] = 1;
    struct apic_board b = parse();
    CHECK(b.nmi_pin == 0 && b.apic_address == 0x1fee00000ULL);
    CHECK(b.cpus_found == 1);
}

static void ioapic(uint32_t address, uint32_t gsi_base)
{
    uint8_t *e = entry(1, 12);
    memcpy(e + 4, &address, 4);
    memcpy(e + 8, &gsi_base, 4);
}

/* The override comes after the I/O APICs, as on many boards: the PIT's I/O APIC is chosen only
 * once it is known that IRQ 0 is pin 26, which the second one (pins 24 up) serves. */
static void test_pit_pin_and_its_ioapic(void)
{
    start(0xfee00000);
    ioapic(0xfec00000, 0);
    ioapic(0xfec01000, 24);
    ioapic(0xfec02000, 48);
    uint8_t *override = entry(2, 10);
    override[2] = 0; /* ISA */
    override[3] = 0; /* IRQ 0 */
    uint32_t gsi = 26;
    memcpy(override + 4, &gsi, 4);
    override[8] = 0x0f; /* active low, level */
    uint8_t *other = entry(2, 10);
    other[3] = 9; /* IRQ 9's override is not the PIT's */
    memcpy(other + 4, &(uint32_t){5}, 4);
    struct apic_board b = parse();
    CHECK(b.pit_gsi == 26 && b.pit_gsi_flags == 0x0f);
    CHECK(b.ioapic_address == 0xfec01000 && b.ioapic_gsi_base == 24);
}

static void test_pit_pin_without_override(void)
{
    start(0xfee00000);
    ioapic(0xfec01000, 24); /* serves pins 24 up: not IRQ 0's pin 0 */
    struct apic_board b = parse();
    CHECK(b.pit_gsi == 0 && b.ioapic_address == 0);
    ioapic(0xfec00000, 0);
    b = parse();
    CHECK(b.ioapic_address == 0xfec00000 && b.ioapic_gsi_base == 0);
}

const struct unit_test madt_tests[] = {
    {"madt: enabled CPUs, xAPIC and x2APIC entries", test_enabled_cpus},
    {"madt: disabled and online-capable-only CPUs are not started",
     test_disabled_and_online_capable_skipped},
    {"madt: a CPU listed twice is started once", test_same_cpu_listed_twice},
    {"madt: more CPUs than nmilab keeps", test_more_cpus_than_kept},
    {"madt: the NMI pin, the address override, an entry past the end",
     test_nmi_pin_override_and_bad_entries},
    {"madt: the PIT's pin after an override, and the I/O APIC serving it",
     test_pit_pin_and_its_ioapic},
    {"madt: no override: the PIT on pin 0, served only by an I/O APIC from pin 0",
     test_pit_pin_without_override},
    {0},
};
