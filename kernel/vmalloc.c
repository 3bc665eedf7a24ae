/* vmalloc and the physical pages behind it. Pages come from a pool in the kernel image, one at a
 * time; freed ones go on a list and are handed out first. Address space is handed out upwards;
 * vfree gives it back only when the area is the last one (enough for the demos). */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/sections.h>
#include <kernel/string.h>
#include <kernel/vmalloc.h>

#define POOL_PAGES 128 /* enough for the demos and scenarios */

volatile uint64_t vmalloc_faults;
static uint64_t next_virtual = VMALLOC_START;
static uint64_t free_pages; /* a list linked through the first word of each free page */
static uint8_t pool[POOL_PAGES][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static unsigned pool_used;

static uint64_t page_alloc(void) /* a physical address (the identity map makes it a pointer too) */
{
    uint64_t page = free_pages;
    if (page)
        free_pages = *(uint64_t *)page;
    else if (pool_used < POOL_PAGES)
        page = (uint64_t)pool[pool_used++] - KERNEL_VMA;
    if (page)
        memset((void *)page, 0, PAGE_SIZE);
    return page;
}

void *vmalloc(size_t size)
{
    uint64_t pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    if (!pages || next_virtual + (pages + 1) * PAGE_SIZE > VMALLOC_END)
        return NULL;
    uint64_t start = next_virtual;
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t physical = page_alloc();
        if (!physical)
            return NULL;
        paging_map_kernel_page(start + i * PAGE_SIZE, physical);
    }
    next_virtual += (pages + 1) * PAGE_SIZE; /* an unmapped guard page after each area */
    return (void *)start;
}

void vfree(void *area, size_t size)
{
    uint64_t start = (uint64_t)area, pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t page = paging_unmap_page(start + i * PAGE_SIZE);
        if (page) {
            *(uint64_t *)page = free_pages;
            free_pages = page;
        }
    }
    if (start + (pages + 1) * PAGE_SIZE == next_virtual)
        next_virtual = start;
}

NOKPROBE bool vmalloc_fault(uint64_t address)
{
    if (address < VMALLOC_START || address >= VMALLOC_END || !paging_sync_top_level(address))
        return false;
    vmalloc_faults++;
    return true;
}

uint64_t vmalloc_stale_page_table(void)
{
    static uint64_t root; /* one table, refilled each time */
    root = paging_copy_master(root);
    ((uint64_t *)root)[(VMALLOC_START >> 39) & 511] = 0;
    return root;
}
