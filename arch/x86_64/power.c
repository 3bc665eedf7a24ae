/* Power-off and reboot. Power-off is ACPI soft-off (QEMU and Bochs exit on it too): write the
 * sleep type of \_S5 to the PM1 control registers. Finding that sleep type properly needs an AML
 * interpreter; the \_S5_ package is simple enough that scanning the DSDT for it works on most
 * PCs, and when it does not we halt and say so. */
#include <arch/x86_64/acpi.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/power.h>
#include <kernel/printk.h>
#include <kernel/string.h>

/* SLP_TYPa of the \_S5_ package: "_S5_" 0x12 (Package) PkgLength NumElements then the value,
 * as a ZeroOp/OneOp or a BytePrefix (0x0a) byte. */
static int s5_sleep_type(const struct acpi_table_header *dsdt)
{
    const uint8_t *aml = (const uint8_t *)dsdt;
    for (uint32_t i = sizeof *dsdt; i + 8 < dsdt->length; i++) {
        if (memcmp(aml + i, "_S5_", 4) || aml[i + 4] != 0x12)
            continue;
        const uint8_t *p = aml + i + 5;
        p += ((*p >> 6) & 3) + 1; /* PkgLength: the top two bits count the extra bytes */
        p++;                      /* NumElements */
        if (*p == 0x0a)
            return p[1];
        if (*p <= 1)
            return *p;
    }
    return -1;
}

void machine_poweroff(void)
{
    interrupts_disable();
    const struct acpi_table_header *fadt = acpi_find_table("FACP");
    if (fadt) {
        const uint8_t *f = (const uint8_t *)fadt;
        uint64_t dsdt_address = acpi_field(f, 40, 4), smi_command = acpi_field(f, 48, 4);
        uint64_t pm1a_control = acpi_field(f, 64, 4), pm1b_control = acpi_field(f, 68, 4);
        int sleep_type = dsdt_address ? s5_sleep_type(acpi_map_table(dsdt_address)) : -1;
        if (sleep_type >= 0 && pm1a_control) {
            /* Not in ACPI mode yet (SCI_EN clear): write ACPI_ENABLE to the SMI command port */
            if (smi_command && f[52] && !(inb((uint16_t)pm1a_control) & 1)) {
                outb((uint16_t)smi_command, f[52]);
                for (int i = 0; i < 1000000 && !(inb((uint16_t)pm1a_control) & 1); i++)
                    cpu_relax();
            }
            uint16_t sleep = (uint16_t)(sleep_type << 10 | 1 << 13); /* SLP_TYP, SLP_EN */
            outw((uint16_t)pm1a_control, sleep);
            if (pm1b_control)
                outw((uint16_t)pm1b_control, sleep);
            for (int i = 0; i < 10000000; i++)
                cpu_relax();
        }
    }
    printk("poweroff: ACPI soft-off did not work on this machine; halted."
           " It is safe to switch it off now.\n");
    halt_forever();
}

void machine_reboot(void)
{
    interrupts_disable();
    printk("rebooting\n");
    /* wait for the keyboard controller's input buffer to empty */
    for (int i = 0; i < 100000 && (inb(0x64) & 2); i++)
        cpu_relax();
    outb(0x64, 0xfe); /* pulse the CPU reset line */
    for (int i = 0; i < 10000000; i++)
        cpu_relax();
    /* Last resort: with no IDT, int3 is a triple fault, which resets the CPU. */
    static const struct __attribute__((packed)) { uint16_t limit; uint64_t base; } no_idt = {0, 0};
    __asm__ volatile("lidt %0; int3" : : "m"(no_idt));
    halt_forever();
}
