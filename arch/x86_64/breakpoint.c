/* int3 (#BP) dispatch. int3 is a trap: the saved RIP is the byte after the one-byte int3, so the
 * hook for a breakpoint at address A is found under RIP - 1. An int3 that nobody registered is a
 * bug (a stray breakpoint, or a patched byte left behind): report it and stop. */
#include <arch/x86_64/faults.h>
#include <arch/x86_64/sections.h>
#include <arch/x86_64/traps.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>

#define INT3_HOOKS_MAX 8
/* Another CPU may take an int3 away, and put it back, while this one is on its way here: an int3
 * still in place is looked up again, a few times, before it is called stray. */
#define INT3_TRIES 100

static struct {
    uint64_t address;
    int3_hook hook;
} hooks[INT3_HOOKS_MAX];

NOKPROBE bool register_int3_hook(uint64_t address, int3_hook hook)
{
    for (int i = 0; i < INT3_HOOKS_MAX; i++)
        if (!hooks[i].address) {
            hooks[i].hook = hook;
            hooks[i].address = address; /* last: an int3 between the two stores finds no hook */
            return true;
        }
    return false;
}

NOKPROBE void unregister_int3_hook(uint64_t address)
{
    for (int i = 0; i < INT3_HOOKS_MAX; i++)
        if (hooks[i].address == address)
            hooks[i].address = 0;
}

static NOKPROBE bool breakpoint(struct trap_frame *frame)
{
    uint64_t address = frame->rip - 1;
    for (int tries = 0; tries < INT3_TRIES; tries++) {
        for (int i = 0; i < INT3_HOOKS_MAX; i++)
            if (hooks[i].address == address && hooks[i].hook(frame))
                return true;
        if (*(volatile uint8_t *)address != 0xcc) { /* taken away since this CPU trapped on it */
            frame->rip = address;                   /* run the byte that is there now */
            return true;
        }
    }
    uint64_t offset = 0;
    const char *name = symbol_lookup(address, &offset);
    printk("int3: stray breakpoint at %016lx %s+0x%lx: no int3 hook is registered there\n", address,
           name ? name : "?", offset);
    return false;
}

void breakpoint_init(void) { trap_register(VECTOR_BREAKPOINT, breakpoint); }
