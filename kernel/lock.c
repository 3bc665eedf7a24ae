/* Spin locks that an NMI handler may take (include/kernel/lock.h). */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/smp.h>
#include <kernel/lock.h>

#define HELD_ALREADY (1UL << 63) /* not an RFLAGS bit: free to carry the answer */

uint64_t lock_take(struct lock *lock)
{
    uint64_t flags = read_rflags();
    interrupts_disable();
    int me = this_cpu()->index + 1, free = 0;
    if (lock->owner == me)
        return flags | HELD_ALREADY; /* taking it again would wait for ourselves */
    while (!__atomic_compare_exchange_n(&lock->owner, &free, me, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        free = 0;
        cpu_relax();
    }
    return flags;
}

void lock_give(struct lock *lock, uint64_t taken)
{
    if (!(taken & HELD_ALREADY))
        __atomic_store_n(&lock->owner, 0, __ATOMIC_RELEASE);
    if (taken & RFLAGS_IF)
        interrupts_enable();
}
