/* backtrace-all: an NMI to each other CPU, which prints from its NMI handler where it was, the
 * whole report under the console lock; only an NMI stops a CPU that spins with interrupts off
 * (docs/nmi.md, "Several CPUs", tells the rest: a CPU already in an NMI handler, user mode). */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/timer.h>
#include <kernel/console.h>
#include <kernel/cpu_backtrace.h>
#include <kernel/lock.h>
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>

#define ANSWER_TIMEOUT_MS 1000

/* By CPU index: set by backtrace_all_cpus, cleared by that CPU when it has printed. */
static volatile bool backtrace_wanted[CPUS_MAX];

static bool answer(struct trap_frame *frame)
{
    struct cpu *cpu = this_cpu();
    if (!backtrace_wanted[cpu->index])
        return false;
    uint64_t taken = lock_take(&console_lock);
    printk("CPU %d (APIC ID %u): NMI backtrace\n", cpu->index, cpu->apic_id);
    nmi_show_interrupted(frame);
    lock_give(&console_lock, taken);
    __atomic_store_n(&backtrace_wanted[cpu->index], false, __ATOMIC_RELEASE);
    return true;
}

/* One CPU needs no NMI to see its own stack: the handler is only there when there are others. */
void cpu_backtrace_init(void)
{
    if (cpu_count > 1)
        register_nmi_handler("backtrace", answer);
}

int backtrace_all_cpus(void)
{
    struct cpu *me = this_cpu();
    uint64_t taken = lock_take(&console_lock);
    printk("CPU %d (APIC ID %u): the one asking\n", me->index, me->apic_id);
    backtrace_print((uint64_t)__builtin_return_address(0), *(uint64_t *)__builtin_frame_address(0));
    lock_give(&console_lock, taken);
    for (int i = 0; i < cpu_count; i++)
        if (i != me->index) {
            backtrace_wanted[i] = true;
            apic_send_nmi(cpus[i].apic_id);
        }
    int answered = 1;
    for (int i = 0; i < cpu_count; i++) {
        uint64_t start = rdtsc();
        while (backtrace_wanted[i] && rdtsc() - start < ANSWER_TIMEOUT_MS * tsc_khz)
            cpu_relax();
        if (i != me->index && backtrace_wanted[i])
            printk("CPU %d (APIC ID %u): did not answer the NMI within %d ms\n",
                   i, cpus[i].apic_id, ANSWER_TIMEOUT_MS);
        else if (i != me->index)
            answered++;
    }
    printk("backtrace-all: %d of %d CPUs answered\n", answered, cpu_count);
    return answered;
}
