/* Local APIC set-up (Intel SDM vol. 3, chapter 11). The address comes from the ACPI MADT, with the
 * IA32_APIC_BASE MSR as the fallback; the MADT also says which LINT pin the board wires to NMI
 * (almost always LINT1). That pin must be unmasked in NMI delivery mode, or an NMI from outside
 * (a front-panel NMI button, QEMU's `nmi` monitor command or QMP inject-nmi) never arrives. */
#include <arch/x86_64/acpi.h>
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/smp.h>
#include <kernel/printk.h>

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ENABLE (1UL << 11)
#define APIC_BASE_X2APIC (1UL << 10)
#define MSR_X2APIC_FIRST 0x800 /* x2APIC register = 0x800 + xAPIC offset / 16 */

enum apic_register { /* xAPIC offsets */
    APIC_ID = 0x20,
    APIC_SPURIOUS = 0xf0,
    APIC_EOI = 0xb0,
    APIC_ICR_LOW = 0x300,
    APIC_ICR_HIGH = 0x310,
    APIC_LVT_TIMER = 0x320,
    APIC_LVT_LINT0 = 0x350,
    APIC_LVT_LINT1 = 0x360,
    APIC_TIMER_INITIAL_COUNT = 0x380,
    APIC_TIMER_CURRENT_COUNT = 0x390,
    APIC_TIMER_DIVIDE = 0x3e0,
};
#define APIC_LVT_MASKED (1u << 16)
#define APIC_TIMER_PERIODIC (1u << 17)
#define APIC_TIMER_DIVIDE_BY_16 0x3
#define APIC_SOFTWARE_ENABLE (1u << 8)
#define APIC_SPURIOUS_VECTOR 0xff
#define APIC_DELIVERY_NMI (4u << 8)
#define APIC_LEVEL_ASSERT (1u << 14)
#define APIC_DELIVERY_PENDING (1u << 12)

static volatile uint32_t *xapic;
static bool x2apic, ready;
struct apic_board apic_board = {.nmi_pin = 1}; /* LINT1, unless the MADT says otherwise */
_Static_assert(MADT_CPUS_MAX == CPUS_MAX, "the MADT keeps as many CPUs as nmilab starts");

static uint32_t apic_read(enum apic_register reg)
{
    return x2apic ? (uint32_t)rdmsr(MSR_X2APIC_FIRST + reg / 16) : xapic[reg / 4];
}

static void apic_write(enum apic_register reg, uint32_t value)
{
    if (x2apic)
        wrmsr(MSR_X2APIC_FIRST + reg / 16, value);
    else
        xapic[reg / 4] = value;
}

bool apic_ready(void) { return ready; }
uint32_t apic_id(void) { return x2apic ? apic_read(APIC_ID) : apic_read(APIC_ID) >> 24; }

/* This CPU's local APIC on (each CPU has its own, at the same address): enabled, x2APIC mode if
 * the machine has it, external NMIs let in on the board's NMI pin. */
void apic_init_cpu(void)
{
    uint64_t base_msr = rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE;
    wrmsr(MSR_APIC_BASE, base_msr);
    if (x2apic) /* xAPIC first, then x2APIC: the SDM's required order */
        wrmsr(MSR_APIC_BASE, base_msr | APIC_BASE_X2APIC);
    apic_write(APIC_SPURIOUS, APIC_SOFTWARE_ENABLE | APIC_SPURIOUS_VECTOR);
    enum apic_register nmi_lvt = apic_board.nmi_pin ? APIC_LVT_LINT1 : APIC_LVT_LINT0;
    /* Unmasked on the boot CPU only, the one that gets here before `ready`: the board raises its
     * NMI on every CPU's pin (docs/nmi.md, "Several CPUs": "External NMIs go to CPU 0 only"). */
    apic_write(nmi_lvt, APIC_DELIVERY_NMI | (ready ? APIC_LVT_MASKED : 0));
}

void apic_init(void)
{
    uint32_t regs[4];
    cpuid(1, 0, regs);
    if (!(regs[3] & (1u << 9))) {
        printk("apic: this CPU has no local APIC; self-NMIs and external NMIs are unavailable\n");
        return;
    }
    const struct acpi_table_header *madt = acpi_find_table("APIC");
    if (madt)
        madt_parse((const uint8_t *)madt, madt->length, &apic_board);
    uint64_t address = apic_board.apic_address;
    const char *found_by = address ? "ACPI MADT" : "APIC base MSR";
    if (!address)
        address = rdmsr(MSR_APIC_BASE) & PAGE_ADDRESS_MASK;
    x2apic = regs[2] & (1u << 21);
    if (!x2apic)
        xapic = paging_map_device(address, PAGE_SIZE, true);
    apic_init_cpu();
    ready = true;
    if (x2apic)
        printk("apic: x2APIC mode, id %u; external NMIs on LINT%u\n", apic_id(),
               apic_board.nmi_pin);
    else
        printk("apic: xAPIC at %lx (from the %s), id %u; no x2APIC on this CPU;"
               " external NMIs on LINT%u\n", address, found_by, apic_id(), apic_board.nmi_pin);
}

void apic_eoi(void) { apic_write(APIC_EOI, 0); }

void apic_timer_start(uint32_t initial_count, unsigned vector, bool periodic)
{
    apic_write(APIC_TIMER_DIVIDE, APIC_TIMER_DIVIDE_BY_16);
    uint32_t masked = vector ? 0 : APIC_LVT_MASKED; /* no vector: the timer counts, silently */
    apic_write(APIC_LVT_TIMER, vector | masked | (periodic ? APIC_TIMER_PERIODIC : 0));
    apic_write(APIC_TIMER_INITIAL_COUNT, initial_count);
}

uint32_t apic_timer_current(void) { return apic_read(APIC_TIMER_CURRENT_COUNT); }

void apic_lvt_nmi(enum apic_nmi_entry entry, bool enabled)
{
    apic_write((enum apic_register)entry, APIC_DELIVERY_NMI | (enabled ? 0 : APIC_LVT_MASKED));
}

void apic_send_ipi(uint32_t destination, uint32_t command)
{
    if (x2apic) {
        wrmsr(MSR_X2APIC_FIRST + APIC_ICR_LOW / 16, (uint64_t)destination << 32 | command);
        return;
    }
    /* Two writes, and an NMI between them may send an IPI of its own: so each sender puts back
     * the destination it found, once its IPI has left (the ICR must not change while one is on
     * its way), and an IPI it interrupted still goes where it was meant to. */
    uint32_t interrupted_destination = apic_read(APIC_ICR_HIGH);
    while (apic_read(APIC_ICR_LOW) & APIC_DELIVERY_PENDING)
        cpu_relax();
    apic_write(APIC_ICR_HIGH, destination << 24);
    apic_write(APIC_ICR_LOW, command); /* this write sends it */
    while (apic_read(APIC_ICR_LOW) & APIC_DELIVERY_PENDING)
        cpu_relax();
    apic_write(APIC_ICR_HIGH, interrupted_destination);
}

void apic_send_nmi(uint32_t destination)
{
    if (ready)
        apic_send_ipi(destination, APIC_DELIVERY_NMI | APIC_LEVEL_ASSERT);
}

void apic_send_self_nmi(void) { apic_send_nmi(apic_id()); }
