/* A spin lock for what the CPUs share (the console, the task table). It may be taken in NMI
 * context: a CPU that already holds it goes on (an NMI that interrupted its own printk), so an
 * NMI never waits for the code it interrupted. Interrupts stay off while it is held. */
#pragma once
#include <stdint.h>

struct lock {
    volatile int owner; /* the holder's CPU index + 1; 0: free */
};
/* Returns what lock_give needs: the RFLAGS before, and whether this CPU held the lock already. */
uint64_t lock_take(struct lock *lock);
void lock_give(struct lock *lock, uint64_t taken);
