/* The stories' cast (include/kernel/shell.h): broken-frames is the task whose frame chain makes
 * the watchdog's dump take a page fault inside the NMI handler (docs/stories.md, story 1). */
#include <stddef.h>
#include <kernel/shell.h>
#include <kernel/task.h>

#define UNMAPPED_FRAME 0x0000100000000000UL /* nothing maps it: reading the frame there faults */

static void worker(void *argument)
{
    for (;;)
        task_sleep((uint64_t)argument);
}

static __attribute__((noinline)) void block_with_broken_frame_chain(void)
{
    uint64_t *frame = __builtin_frame_address(0);
    frame[0] = UNMAPPED_FRAME; /* our caller's saved rbp: never used again, we never return */
    task_block();
}

static void broken_frames(void *unused) { block_with_broken_frame_chain(); }

void task_create_cast(void)
{
    task_create("worker-1", worker, (void *)1);
    task_create("worker-2", worker, (void *)3);
    task_create("sleeper", worker, (void *)1000000); /* a worker that hardly ever wakes */
    task_create("broken-frames", broken_frames, NULL);
    task_sleep(5); /* let every task run once and settle */
}
