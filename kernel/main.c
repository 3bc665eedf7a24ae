/* kernel_main: from the long-mode switch (boot/entry.asm) to a running kernel. The order matters:
 * the CPU tables first, so that any fault after this point gets a readable panic instead of a
 * silent triple fault; then memory and the screen; then whatever the command line asks for. */
#include <arch/x86_64/acpi.h>
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/pic.h>
#include <arch/x86_64/serial.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/cpu_backtrace.h>
#include <kernel/multiboot.h>
#include <kernel/nmi.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/shell.h>
#include <kernel/task.h>
#include <kernel/user.h>
#include <kernel/vmalloc.h>
#include <kernel/watchdog.h>

struct boot_info boot_info;
struct cmdline kernel_cmdline;

static void console_delay_init(void)
{
    const char *value = cmdline_get(&kernel_cmdline, "console_delay");
    uint64_t microseconds;
    if (value && parse_number(value, 100000, &microseconds)) {
        printk("console_delay: bad value '%s' (microseconds per byte, 0 to 100000); ignored\n",
               value);
    } else if (value) {
        serial_set_delay(microseconds);
        printk("console: %lu us per byte on serial (console_delay)\n", microseconds);
    }
}

static void print_memory_map(void)
{
    printk("memory map: %u regions, %lu MiB usable\n",
           boot_info.memory_count, boot_memory_available(&boot_info) >> 20);
    for (unsigned i = 0; i < boot_info.memory_count; i++) {
        const struct boot_memory_region *r = &boot_info.memory[i];
        printk("  %016lx-%016lx %s\n", r->base, r->base + r->length - 1,
               r->type == BOOT_MEMORY_AVAILABLE ? "usable" : "reserved");
    }
}

/* What each CPU's timer tick does, in this order: the buddy watchdog looks at the next CPU's
 * ticks, then the scheduler, last because it may switch to another task. */
static void timer_tick_work(void)
{
    watchdog_buddy_check();
    task_yield();
}

void kernel_main(uint32_t magic, uint32_t info_address)
{
    serial_init();
    gdt_load(0);
    idt_init();
    printk("\nnmilab: booting (multiboot2 magic %x)\n", magic);

    char error[128];
    if (multiboot_parse((const void *)(uint64_t)info_address, &boot_info, error, sizeof error))
        panic("%s", error);
    paging_init();
    stacks_init();
    console_init_screen(&boot_info.framebuffer);

    printk("nmilab: an x86_64 kernel about the NMI iret problem\n");
    printk("console: serial COM1, screen %s\n", console_screen_description());
    printk("cmdline: %s\n", boot_info.cmdline[0] ? boot_info.cmdline : "(empty)");
    if (boot_info.cmdline_given >= sizeof boot_info.cmdline)
        printk("cmdline: truncated to %zu bytes (GRUB passed %zu); options after that are lost\n",
               sizeof boot_info.cmdline - 1, boot_info.cmdline_given);
    cmdline_parse(&kernel_cmdline, boot_info.cmdline);
    print_memory_map();
    acpi_init(boot_info.rsdp, boot_info.rsdp_revision);
    page_fault_init();
    page_fault_register_hook(vmalloc_fault);    /* the fault hooks: the vmalloc area's, */
    trap_register_user_fault_hook(user_fault); /* and user mode's (kill the task) */
    breakpoint_init();
    pic_init();
    apic_init();
    nmi_init();
    user_mode_init();
    task_init();
    timer_register_tick_hook(timer_tick_work);
    timer_init();
    smp_init(boot_low_page(&boot_info));
    cpu_backtrace_init();
    console_delay_init();
    watchdog_init();
    interrupts_enable();

    const char *test = cmdline_get(&kernel_cmdline, "test");
    if (test)
        scenario_run(test);
    printk("nmilab: ready\n");
    const char *demo = cmdline_get(&kernel_cmdline, "demo");
    if (demo)
        demo_run(demo);
    shell_run();
}
