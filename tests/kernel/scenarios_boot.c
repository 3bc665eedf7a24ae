/* Boot scenarios: the machine came up as designed, and faults are reported, not fatal in silence. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/serial.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/multiboot.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/printk.h>
#include <kernel/task.h>
#include <tests/kernel/scenario.h>
#include <kernel/string.h>

extern char kernel_start[], kernel_end[];
extern uint64_t gdt[]; /* arch/x86_64/gdt.c: only the tests look at it from outside */

static int invalid_opcodes_seen;
static uint64_t debug_handler_stack; /* where the #DB handler found its trap frame */

static bool skip_ud2(struct trap_frame *frame)
{
    invalid_opcodes_seen++;
    frame->rip += 2; /* ud2 is two bytes: go on after it */
    return true;
}

static bool note_debug_stack(struct trap_frame *frame)
{
    debug_handler_stack = (uint64_t)frame;
    return true;
}

static bool kernel_in_usable_memory(void)
{
    uint64_t start = (uint64_t)kernel_start - KERNEL_VMA, end = (uint64_t)kernel_end - KERNEL_VMA;
    for (unsigned i = 0; i < boot_info.memory_count; i++) {
        const struct boot_memory_region *r = &boot_info.memory[i];
        if (r->type == BOOT_MEMORY_AVAILABLE && r->base <= start && end <= r->base + r->length)
            return true;
    }
    return false;
}

static enum scenario_result boot_scenario(void)
{
    /* the memory map */
    expect(boot_info.memory_count > 0, "no memory map from the boot loader");
    expect(boot_memory_available(&boot_info) >= (16UL << 20), "only %lu KiB usable memory",
           boot_memory_available(&boot_info) >> 10);
    expect(kernel_in_usable_memory(), "the kernel image is not inside a usable memory region");
    expect(cmdline_get(&kernel_cmdline, "test") != NULL, "the command line did not come through (no test=)");
    /* the consoles */
    expect(serial_present, "no UART at COM1");
    expect(strcmp(console_screen_description(), "none") != 0, "no screen console");
    /* the CPU tables */
    struct descriptor_table_register gdtr, idtr;
    uint16_t task_register;
    __asm__ volatile("sgdt %0; sidt %1; str %2" : "=m"(gdtr), "=m"(idtr), "=r"(task_register));
    expect(gdtr.base == (uint64_t)gdt && gdtr.limit == GDT_ENTRIES * 8 - 1, "GDTR is %lx/%x, not the kernel's GDT", gdtr.base,
           gdtr.limit);
    expect(idtr.base >= KERNEL_VMA && idtr.limit == 256 * 16 - 1, "IDTR is %lx/%x, not the kernel's IDT", idtr.base, idtr.limit);
    expect(task_register == 0x28, "task register is %x, not the TSS selector 0x28", task_register);
    for (int i = 1; i <= IST_LAST; i++) {
        expect(paging_is_mapped(ist_stack_top(i) - 8), "IST stack %d is not mapped", i);
        expect(!paging_is_mapped(ist_stack_bottom(i) - 8), "IST stack %d has no guard page", i);
    }
    expect(!paging_is_mapped(0), "the null page is mapped");
    /* an exception goes through the IDT, the common entry and C, and iretq comes back */
    trap_register(VECTOR_INVALID_OPCODE, skip_ud2);
    __asm__ volatile("ud2");
    trap_register(VECTOR_INVALID_OPCODE, NULL);
    expect(invalid_opcodes_seen == 1, "ud2 was handled %d times, not once", invalid_opcodes_seen);
    /* #DB arrives on its IST stack, whatever stack it came from */
    trap_register(VECTOR_DEBUG, note_debug_stack);
    __asm__ volatile("int $1");
    trap_register(VECTOR_DEBUG, NULL);
    expect(debug_handler_stack >= ist_stack_bottom(IST_DEBUG) && debug_handler_stack < ist_stack_top(IST_DEBUG),
           "#DB handler ran on %lx, not on the #DB IST stack", debug_handler_stack);
    printk("# memory %lu MiB usable in %u regions; screen %s\n", boot_memory_available(&boot_info) >> 20,
           boot_info.memory_count, console_screen_description());
    return SCENARIO_PASS;
}

/* The deliberate fault: a write to an address nothing maps. The PANIC report is what is tested. */
static __attribute__((noinline)) void write_to_unmapped_memory(void)
{
    *(volatile uint64_t *)0x0000100000000000UL = 0x1234;
}

static enum scenario_result panic_fault_scenario(void)
{
    printk("# writing to unmapped address 0x100000000000: the kernel must panic with a full report\n");
    write_to_unmapped_memory();
    expect(false, "the write to unmapped memory did not fault");
    return SCENARIO_FAIL;
}

/* Deep recursion on the #DB IST stack: it must run into the guard page and be reported. */
static __attribute__((noinline)) uint64_t recurse(uint64_t depth)
{
    volatile uint8_t frame_filler[512];
    frame_filler[0] = (uint8_t)depth;
    if (depth > 1000000)
        return depth;
    return recurse(depth + 1) + frame_filler[0];
}

static bool overflow_debug_stack(struct trap_frame *frame)
{
    return recurse((uint64_t)frame & 1) != 0;
}

static enum scenario_result panic_ist_overflow_scenario(void)
{
    printk("# recursing on the #DB IST stack: the guard page must stop it and #DF must report it\n");
    trap_register(VECTOR_DEBUG, overflow_debug_stack);
    __asm__ volatile("int $1");
    trap_register(VECTOR_DEBUG, NULL);
    expect(false, "the overflow was not caught");
    return SCENARIO_FAIL;
}

/* The same on a task's stack: a runaway recursion must fault into the task stack's guard page. */
static void runaway(void *unused) { recurse(0); }

static enum scenario_result panic_task_overflow_scenario(void)
{
    printk("# a task recursing without end: its stack's guard page must stop it and #DF must report it\n");
    if (!expect(task_create("runaway", runaway, NULL) != NULL, "no room for a task"))
        return SCENARIO_FAIL;
    task_sleep(100);
    expect(false, "the overflow was not caught");
    return SCENARIO_FAIL;
}

/* The nofault accessors: a fault becomes an error code, through the exception table. */
static enum scenario_result nofault_scenario(void)
{
    static uint64_t mapped = 0x1122334455667788UL;
    uint64_t value = 0;
    expect(copy_from_kernel_nofault(&value, (const void *)0x0000100000000000UL, 8) == -1,
           "reading unmapped memory did not fail");
    expect(copy_from_kernel_nofault((void *)0x0000100000000000UL, &mapped, 8) == -1, "writing unmapped memory did not fail");
    expect(copy_from_kernel_nofault(&value, &mapped, 8) == 0 && value == mapped, "reading mapped memory failed");
    expect(copy_from_kernel_nofault(&value, NULL, 1) == -1, "reading the null page did not fail");
    /* a non-canonical address raises #GP, not #PF: the same table fixes it up */
    expect(copy_from_kernel_nofault(&value, (const void *)0x8000000000000000UL, 1) == -1,
           "reading a non-canonical address did not fail");
    expect(page_fault_fixups == 3, "%lu page faults were fixed up, not 3", page_fault_fixups);
    return SCENARIO_PASS;
}

/* msr-probe: msr_write_kept, the performance counter's probe against a hypervisor that lists a
 * PMU it lacks, on an MSR every x86-64 CPU has (IA32_SYSENTER_EIP, unused by a kernel that enters
 * with SYSCALL) and on one neither emulator here has (AMD's PerfMonV2 global control): kept, and
 * refused without a panic. The log says how the emulator refused: #GP, or the write dropped. */
#define MSR_SYSENTER_EIP 0x176
#define MSR_ABSENT 0xc0000301
#define MSR_APIC_BASE 0x1b
#define APIC_BASE_X2APIC_MODE (1UL << 10)
#define MSR_X2APIC_EOI 0x80b
static enum scenario_result msr_probe_scenario(void)
{
    uint64_t saved = rdmsr(MSR_SYSENTER_EIP);
    expect(msr_write_kept(MSR_SYSENTER_EIP, 0xabcd), "IA32_SYSENTER_EIP did not keep a value");
    wrmsr(MSR_SYSENTER_EIP, saved);
    fixup_last_fault.vector = 0;
    expect(!msr_write_kept(MSR_ABSENT, 0xabcd), "MSR %x, which the CPU lacks, kept a value",
           MSR_ABSENT);
    bool faulted = fixup_last_fault.vector == VECTOR_GENERAL_PROTECTION;
    printk("# MSR %x: %s\n", MSR_ABSENT, faulted ? "#GP, fixed up" : "no #GP, the write dropped");
    /* In x2APIC mode the EOI register is write-only: its write is taken (harmless with nothing
     * in service), its read faults, so this checks the second instruction's fixup. */
    if (rdmsr(MSR_APIC_BASE) & APIC_BASE_X2APIC_MODE) {
        fixup_last_fault.vector = 0;
        expect(!msr_write_kept(MSR_X2APIC_EOI, 0), "the write-only x2APIC EOI read back a value");
        const uint8_t *faulting = (const uint8_t *)fixup_last_fault.rip;
        bool read_faulted = fixup_last_fault.vector == VECTOR_GENERAL_PROTECTION &&
                            faulting[0] == 0x0f && faulting[1] == 0x32; /* rdmsr */
        expect(read_faulted, "no #GP fixed up at the rdmsr of the write-only x2APIC EOI");
        printk("# x2APIC EOI: %s\n", read_faulted ? "the read faulted, fixed up" : "no read fault");
    }
    return scenario_failed() ? SCENARIO_FAIL : SCENARIO_PASS;
}

/* screen-scroll: a long output that scrolls the screen, slowly enough for the runner to take
 * screendumps while it does (tests/run.py reads them back with the font). */
#define SCROLL_LINES 300
static enum scenario_result screen_scroll_scenario(void)
{
    printk("# scroll: start\n");
    for (int i = 1; i <= SCROLL_LINES; i++) {
        printk("scroll line %d of %d: the quick brown fox jumps over the lazy dog %d\n", i, SCROLL_LINES, i * 7);
        udelay(3000);
    }
    printk("# scroll: done\n");
    udelay(1000000); /* the runner's last screendump: the end of the output on the screen */
    return SCENARIO_PASS;
}

const struct scenario boot_scenarios[] = {
    {"boot", boot_scenario, true},
    {"nofault", nofault_scenario, true},
    {"panic-fault", panic_fault_scenario, false},
    {"panic-ist-overflow", panic_ist_overflow_scenario, false},
    {"panic-task-overflow", panic_task_overflow_scenario, false},
    {"screen-scroll", screen_scroll_scenario, false},
    {"msr-probe", msr_probe_scenario, false},
    {0},
};
