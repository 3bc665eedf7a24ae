/* panic: the last thing the kernel says. It must work from any state, so it only formats and
 * writes to the consoles, and it never returns. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <kernel/console.h>
#include <kernel/lock.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/shell.h>
#include <kernel/stacktrace.h>

static int panicking_cpu = -1; /* the CPU reporting a panic */

void print_registers(const struct trap_frame *f)
{
    printk("  RAX %016lx  RBX %016lx  RCX %016lx\n", f->rax, f->rbx, f->rcx);
    printk("  RDX %016lx  RSI %016lx  RDI %016lx\n", f->rdx, f->rsi, f->rdi);
    printk("  RBP %016lx  R8  %016lx  R9  %016lx\n", f->rbp, f->r8, f->r9);
    printk("  R10 %016lx  R11 %016lx  R12 %016lx\n", f->r10, f->r11, f->r12);
    printk("  R13 %016lx  R14 %016lx  R15 %016lx\n", f->r13, f->r14, f->r15);
    printk("  RIP %016lx  RSP %016lx  RFLAGS %08lx\n", f->rip, f->rsp, f->rflags);
    printk("  CS %04lx  SS %04lx  vector %lu  error code 0x%lx\n",
           f->cs, f->ss, f->vector, f->error_code);
    const char *stack = (f->cs & 3) ? NULL : stack_owner(f->rsp);
    if (stack)
        printk("  (RSP is on the %s stack)\n", stack);
}

static __attribute__((noreturn)) void panic_common(const struct trap_frame *frame, uint64_t rip,
                                                   uint64_t rbp, const char *fmt, va_list arguments)
{
    interrupts_disable();
    int me = this_cpu()->index, first = -1;
    if (!__atomic_compare_exchange_n(&panicking_cpu, &first, me, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST)) {
        if (first != me) /* another CPU's report comes first, whole: this one stops here */
            halt_forever();
        printk("\nPANIC: nested panic while reporting a panic; halted\n"); /* a fault in it */
        scenario_abort();
        halt_forever();
    }
    lock_take(&console_lock); /* kept: the other CPUs' lines wait until the end */
    printk("\nPANIC: ");
    vprintk(fmt, arguments);
    printk(cpu_count > 1 ? " (on CPU %d)\n" : "\n", this_cpu()->index);
    if (frame)
        print_registers(frame);
    printk("  CR0 %016lx  CR2 %016lx\n  CR3 %016lx  CR4 %016lx\n",
           read_cr0(), read_cr2(), read_cr3(), read_cr4());
    backtrace_print(rip, rbp);
    printk("system halted (restart the machine to go on)\n");
    scenario_abort();
    halt_forever();
}

void panic(const char *fmt, ...)
{
    va_list arguments;
    va_start(arguments, fmt);
    /* start the backtrace at panic's caller: its return address, and its caller's saved rbp */
    uint64_t caller_rbp = *(uint64_t *)__builtin_frame_address(0);
    panic_common(NULL, (uint64_t)__builtin_return_address(0), caller_rbp, fmt, arguments);
}

void panic_trap(const struct trap_frame *frame, const char *fmt, ...)
{
    va_list arguments;
    va_start(arguments, fmt);
    panic_common(frame, frame->rip, frame->rbp, fmt, arguments);
}
