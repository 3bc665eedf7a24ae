/* User mode, the arch side. SYSCALL does not switch stacks: until its entry (user_entry.asm) has,
 * RSP is the user's, hence an IST stack for NMI, #MC, #DB and #DF (docs/nmi.md, user mode). */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/printk.h>
#include <kernel/string.h>
#include <kernel/task.h>

#define MSR_EFER 0xc0000080
#define EFER_SCE (1UL << 0) /* SYSCALL enable */
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define CR4_SMEP (1UL << 20)
#define CR4_SMAP (1UL << 21)
/* Cleared on SYSCALL: every flag a program's popfq can set, so the kernel starts from RFLAGS = 2
 * (why each: docs/nmi.md, "What user mode may not do"). SYSRET gives them back, from R11. */
#define FMASK_FLAGS 0x257fd5UL /* bits 0-21 but reserved 1, 3, 5, 15 and VM, VIF, VIP */
#define PAGE_USER (1UL << 2)

static bool smap;

struct user_tables { /* one address space per task slot: PML4, PDPT, PD, page table */
    uint64_t level[4][512];
};
static struct user_tables tables[TASKS_MAX] __attribute__((aligned(PAGE_SIZE)));
static uint8_t stacks[TASKS_MAX][USER_STACK_PAGES][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static uint64_t physical(const void *kernel_address)
{
    return (uint64_t)kernel_address - KERNEL_VMA;
}

/* The MSRs and CR4 bits each CPU has of its own; CPU 0 also says what it found. */
void user_mode_init(void)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    /* SYSCALL loads CS from STAR[47:32] (SS = +8); SYSRET loads SS from STAR[63:48] + 8 and CS
     * from + 16, both with RPL 3: hence user data before user code in the GDT. */
    wrmsr(MSR_STAR, (uint64_t)KERNEL_DATA_SELECTOR << 48 | (uint64_t)KERNEL_CODE_SELECTOR << 32);
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    wrmsr(MSR_FMASK, FMASK_FLAGS);
    wrmsr(MSR_GS_BASE, (uint64_t)&this_cpu()->local);
    wrmsr(MSR_KERNEL_GS_BASE, 0);

    uint32_t features = cpuid_leaf7_ebx();
    bool smep = features & CPUID7_SMEP;
    smap = features & CPUID7_SMAP;
    write_cr4(read_cr4() | (smep ? CR4_SMEP : 0) | (smap ? CR4_SMAP : 0));
    if (this_cpu()->index == 0)
        printk("user: SYSCALL entry ready; SMEP %s, SMAP %s\n", smep ? "on" : "not on this CPU",
               smap ? "on" : "not on this CPU");
}

uint64_t user_address_space(int slot)
{
    struct user_tables *t = &tables[slot];
    memset(t->level[1], 0, 3 * sizeof t->level[1]);
    uint64_t root = paging_copy_master(physical(t->level[0]));
    uint64_t directory_flags = PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER;
    ((uint64_t *)root)[USER_BASE >> 39 & 511] = physical(t->level[1]) | directory_flags;
    t->level[1][USER_BASE >> 30 & 511] = physical(t->level[2]) | directory_flags;
    t->level[2][USER_BASE >> 21 & 511] = physical(t->level[3]) | directory_flags;
    /* The programs, read-only: a page of them is never shared with other kernel data. */
    uint64_t code_pages = (uint64_t)(user_programs_end - user_programs_start) / PAGE_SIZE;
    for (uint64_t i = 0; i < code_pages && i < USER_CODE_PAGES; i++)
        t->level[3][i] = (physical(user_programs_start) + i * PAGE_SIZE) | PAGE_PRESENT | PAGE_USER;
    memset(stacks[slot], 0, sizeof stacks[slot]);
    for (int i = 0; i < USER_STACK_PAGES; i++)
        t->level[3][512 - USER_STACK_PAGES + i] =
            physical(stacks[slot][i]) | PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER;
    return root;
}

/* One nofault copy for both directions; user_address is the side that must be user memory. With
 * SMAP on, the kernel touches user pages only between stac and clac. */
static int copy_user(void *destination, const void *source, uint64_t user_address, size_t size)
{
    if (user_address < USER_BASE || user_address >= USER_END || size > USER_END - user_address)
        return -1;
    if (smap)
        __asm__ volatile("stac" ::: "memory");
    int result = copy_from_kernel_nofault(destination, source, size);
    if (smap)
        __asm__ volatile("clac" ::: "memory");
    return result;
}

int copy_from_user(void *destination, uint64_t source, size_t size)
{
    return copy_user(destination, (const void *)source, source, size);
}

int copy_to_user(uint64_t destination, const void *source, size_t size)
{
    return copy_user((void *)destination, source, destination, size);
}

void gs_make_kernel(void)
{
    if (rdmsr(MSR_GS_BASE) != (uint64_t)&this_cpu()->local)
        __asm__ volatile("swapgs" ::: "memory");
    __asm__ volatile("lfence" ::: "memory"); /* no GS load on a guess of that branch */
}
