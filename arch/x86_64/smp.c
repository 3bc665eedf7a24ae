/* Starting the other CPUs (Intel SDM vol. 3, 11.4 and 11.6; the MADT lists them), the way
 * docs/nmi.md tells ("Several CPUs"): from the trampoline (ap_trampoline.asm) each lands in
 * ap_entry and becomes its CPU's idle task. One is started at a time: they share the trampoline. */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <kernel/cmdline.h>
#include <kernel/printk.h>
#include <kernel/string.h>
#include <kernel/task.h>

#define START_TIMEOUT_MS 200

struct cpu cpus[CPUS_MAX];
int cpu_count = 1;

extern const uint8_t ap_trampoline_start[], ap_trampoline_end[];
static uint64_t boot_cr4;
/* The CPU being started: its stack, for ap_long_mode (ap_trampoline.asm), and its index. */
uint64_t ap_start_stack;
static int ap_start_index;

__attribute__((noreturn)) void ap_entry(void) /* from ap_trampoline.asm */
{
    int index = ap_start_index;
    gdt_load(index);
    idt_load();
    write_cr4(boot_cr4);
    user_mode_init();
    apic_init_cpu();
    timer_start_this_cpu();
    __atomic_store_n(&cpus[index].online, true, __ATOMIC_RELEASE);
    for (;;) /* the CPU's idle task: the tick schedules whatever is made for this CPU */
        __asm__ volatile("sti; hlt");
}

/* INIT, then two SIPIs (to the trampoline's page), then wait for the CPU to say it is up. */
static bool start_cpu(int index, uint64_t trampoline_page)
{
    struct cpu *cpu = &cpus[index];
    struct task *idle = task_create_on(index, "idle", NULL, NULL);
    if (!idle) {
        printk("smp: no task slot for CPU %d's idle task\n", index);
        return false;
    }
    ap_start_stack = task_stack_top((int)(idle - task_get(0)));
    ap_start_index = index;
    apic_send_ipi(cpu->apic_id, APIC_IPI_INIT);
    udelay(10000);
    for (int i = 0; i < 2 && !cpu->online; i++) {
        apic_send_ipi(cpu->apic_id, APIC_IPI_STARTUP | trampoline_page >> 12);
        udelay(200);
    }
    uint64_t start_tsc = rdtsc();
    while (!cpu->online && rdtsc() - start_tsc < START_TIMEOUT_MS * tsc_khz)
        cpu_relax();
    bool online = cpu->online; /* decided once: a CPU coming up from now on is too late */
    if (!online) {
        apic_send_ipi(cpu->apic_id, APIC_IPI_INIT); /* back to waiting: it must not wake up late */
        udelay(10000);     /* by now the INIT has stopped it, wherever it had got to... */
        cpu->online = false; /* ...so this is the last word on it, even if it said it was up */
        idle->state = TASK_DEAD;
    }
    return online;
}

void smp_init(uint64_t low_page)
{
    const char *value = cmdline_get(&kernel_cmdline, "smp");
    uint64_t wanted = CPUS_MAX;
    if (value && (parse_number(value, CPUS_MAX, &wanted) || wanted < 1)) {
        printk("smp: bad value '%s' (use smp=N, N from 1 to %d, or nosmp); starting every CPU\n",
               value, CPUS_MAX);
        wanted = CPUS_MAX;
    }
    if (cmdline_get(&kernel_cmdline, "nosmp"))
        wanted = 1;
    cpus[0].apic_id = apic_ready() ? apic_id() : 0;
    cpus[0].online = true;
    unsigned found = apic_board.cpus_found;
    if (found > CPUS_MAX)
        printk("smp: the MADT lists %u CPUs; nmilab starts at most %d\n", found, CPUS_MAX);
    if (found < 2 || wanted < 2 || !apic_ready()) {
        printk("smp: 1 CPU%s\n", found > 1 ? " (nosmp or smp=1)" : "");
        return;
    }
    if (!low_page) {
        printk("smp: the memory map has no usable page below 1 MiB for the start-up code; 1 CPU\n");
        return;
    }
    boot_cr4 = read_cr4();
    memcpy((void *)low_page, ap_trampoline_start, ap_trampoline_end - ap_trampoline_start);
    printk("smp: start-up code at %lx, the lowest usable page above page 0\n", low_page);
    for (unsigned i = 0; i < found && i < CPUS_MAX && (uint64_t)cpu_count < wanted; i++) {
        if (apic_board.cpu_apic_ids[i] == cpus[0].apic_id)
            continue;
        struct cpu *cpu = &cpus[cpu_count];
        cpu->index = cpu_count;
        cpu->apic_id = apic_board.cpu_apic_ids[i];
        if (start_cpu(cpu_count, low_page))
            cpu_count++;
        else
            printk("smp: the CPU with APIC ID %u did not come up within %d ms; skipped\n",
                   cpu->apic_id, START_TIMEOUT_MS);
    }
    printk("smp: %d CPUs online\n", cpu_count);
}
