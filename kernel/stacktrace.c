/* Walking the frame-pointer chain. Every kernel function is compiled with
 * -fno-omit-frame-pointer, so each frame starts with [saved rbp][return address] and rbp points
 * at it. A bad chain must not take the caller down with it (a panic, or show_state() in an NMI),
 * so every frame is read with copy_from_kernel_nofault(): an unmapped frame faults, the
 * page-fault handler's exception table turns that into an error, and the walk stops there. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/faults.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <kernel/string.h>

#define FRAMES_MAX 32  /* frames printed */
#define STEPS_MAX 4096 /* frames walked, printed or not: a looping chain must end */
extern char kernel_start[], kernel_text_end[], entry_text_start[], entry_text_end[];

const char *symbol_lookup(uint64_t address, uint64_t *offset)
{
    if (address < (uint64_t)kernel_start || address >= (uint64_t)kernel_text_end)
        return NULL;
    /* The last symbol at or below address: the table is sorted, and a few hundred long */
    const struct kernel_symbol *symbol = NULL;
    for (unsigned long i = 0; i < kernel_symbol_count && kernel_symbols[i].address <= address; i++)
        symbol = &kernel_symbols[i];
    if (!symbol)
        return NULL;
    *offset = address - symbol->address;
    return symbol->name;
}

uint64_t symbol_address(const char *name)
{
    for (unsigned long i = 0; i < kernel_symbol_count; i++)
        if (!strcmp(kernel_symbols[i].name, name))
            return kernel_symbols[i].address;
    return 0;
}

static void print_backtrace_entry(int depth, uint64_t address, const char *note)
{
    uint64_t offset = 0;
    const char *name = symbol_lookup(address, &offset);
    if (name)
        printk("  #%-2d %016lx %s+0x%lx%s\n", depth, address, name, offset, note);
    else
        printk("  #%-2d %016lx ?%s\n", depth, address, note);
}

static bool in_entry_text(uint64_t address)
{
    /* A return address follows a call: it may be the end of the entry text, never its start. */
    return address > (uint64_t)entry_text_start && address <= (uint64_t)entry_text_end;
}

/* The asm entries leave a frame record holding the *interrupted* RIP, named exactly (no -1), and
 * a frame pointer seen before means an overwritten stack: docs/nmi.md, "nmi=naive", tells both.
 * Consecutive frames with one return address (deep recursion) are printed once, with a count, so
 * a stack overflow's backtrace still shows what started the recursion. */
void backtrace_print(uint64_t rip, uint64_t rbp)
{
    printk("backtrace:\n");
    print_backtrace_entry(0, rip, "");
    int printed = 1;
    uint64_t last = 0, repeats = 0, seen[FRAMES_MAX];
    bool interrupted = in_entry_text(rip);
    for (int step = 0; step < STEPS_MAX && rbp && printed < FRAMES_MAX; step++) {
        uint64_t frame[2]; /* saved rbp, return address */
        /* a user program's frame pointer (a system call, or an NMI before the stack switch):
         * the kernel never follows a chain the program chose */
        if (rbp >= USER_BASE && rbp < USER_END) {
            printk("  (frame pointer %016lx is user memory: the walk stops here)\n", rbp);
            break;
        }
        if ((rbp & 7) || copy_from_kernel_nofault(frame, (const void *)rbp, sizeof frame)) {
            printk("  (frame pointer %016lx is not readable: the walk stops here)\n", rbp);
            break;
        }
        if (!frame[1])
            break;
        int loop = printed;
        while (loop > 1 && seen[loop - 1] != rbp)
            loop--;
        if (loop > 1) {
            printk("  (frame pointer %016lx again, as under frame #%d:"
                   " the chain loops, the stack was overwritten)\n", rbp, loop - 1);
            break;
        }
        if (frame[1] == last) {
            repeats++;
        } else {
            if (repeats)
                printk("      (the frame above %lu more times)\n", repeats);
            repeats = 0;
            last = frame[1];
            seen[printed] = rbp;
            if (interrupted) /* the entry's frame record holds the interrupted RIP itself */
                print_backtrace_entry(printed++, frame[1], " (interrupted here)");
            else /* -1 names the call, not the instruction after it */
                print_backtrace_entry(printed++, frame[1] - 1, "");
        }
        if (interrupted && frame[1] < KERNEL_VMA) { /* it was in user mode: its RBP is its own */
            printk("  (user mode: the program's stack is not walked)\n");
            break;
        }
        interrupted = in_entry_text(frame[1]);
        rbp = frame[0];
    }
    if (repeats)
        printk("      (the frame above %lu more times)\n", repeats);
}
