/* Changes to the boot page tables. Page-table pages come from a small static pool: the kernel has
 * no page allocator, and the few tables it needs (split 2 MiB pages, device mappings above 4 GiB)
 * are known in advance. All tables live below 4 GiB, where the identity map reaches them. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/paging.h>
#include <arch/x86_64/sections.h>
#include <kernel/panic.h>
#include <kernel/string.h>

#define ENTRIES 512
#define TABLE_POOL_SIZE 32

static uint64_t table_pool[TABLE_POOL_SIZE][ENTRIES] __attribute__((aligned(PAGE_SIZE)));
static unsigned tables_used;
static uint64_t *master; /* the boot page table: where kernel mappings are made */

/* The pool is in the kernel image (higher half); its physical address is virtual - KERNEL_VMA,
 * and the identity map makes that physical address usable as a pointer too. */
static uint64_t *new_table(void)
{
    if (tables_used == TABLE_POOL_SIZE)
        panic("paging: out of page-table pages (pool of %d)", TABLE_POOL_SIZE);
    uint64_t *table = (uint64_t *)((uint64_t)table_pool[tables_used++] - KERNEL_VMA);
    memset(table, 0, PAGE_SIZE);
    return table;
}

/* level 4 = PML4 ... 1 = page table */
static NOKPROBE unsigned index_at(uint64_t virtual_address, int level)
{
    return (virtual_address >> (12 + 9 * (level - 1))) & (ENTRIES - 1);
}

/* The page-table entry for a 4 KiB page at virtual_address. With create, missing tables are
 * made and a 2 MiB or 1 GiB page in the way is split into smaller pages that map the same
 * memory; without it, NULL when the walk ends early. */
static uint64_t *walk(uint64_t *table, uint64_t virtual_address, bool create)
{
    for (int level = 4; level > 1; level--) {
        uint64_t *entry = &table[index_at(virtual_address, level)];
        if (!(*entry & PAGE_PRESENT)) {
            if (!create)
                return NULL;
            *entry = (uint64_t)new_table() | PAGE_PRESENT | PAGE_WRITABLE;
        } else if (*entry & PAGE_HUGE) {
            if (!create)
                return entry;
            uint64_t *smaller = new_table();
            uint64_t step = 1UL << (12 + 9 * (level - 2));
            uint64_t flags = (*entry & ~PAGE_ADDRESS_MASK) & (level == 2 ? ~PAGE_HUGE : ~0UL);
            uint64_t first = *entry & PAGE_ADDRESS_MASK & ~(step * ENTRIES - 1);
            for (unsigned i = 0; i < ENTRIES; i++)
                smaller[i] = (first + i * step) | flags;
            *entry = (uint64_t)smaller | PAGE_PRESENT | PAGE_WRITABLE;
            write_cr3(read_cr3()); /* the old large-page translation may be cached */
        }
        table = (uint64_t *)(*entry & PAGE_ADDRESS_MASK);
    }
    return &table[index_at(virtual_address, 1)];
}

static NOKPROBE uint64_t *current_root(void)
{
    return (uint64_t *)(read_cr3() & PAGE_ADDRESS_MASK);
}

bool paging_is_mapped(uint64_t virtual_address)
{
    uint64_t *entry = walk(current_root(), virtual_address, false);
    return entry && (*entry & PAGE_PRESENT);
}

/* Sets root's entry for the 4 KiB page at virtual_address; returns the physical address it held. */
static uint64_t set_entry(uint64_t *root, uint64_t virtual_address, uint64_t value)
{
    uint64_t *entry = walk(root, virtual_address, true);
    uint64_t physical = *entry & PAGE_PRESENT ? *entry & PAGE_ADDRESS_MASK : 0;
    *entry = value;
    invlpg(virtual_address);
    return physical;
}

uint64_t paging_unmap_page(uint64_t address) { return set_entry(master, address, 0); }

void *paging_map_device(uint64_t physical_address, uint64_t size, bool uncached)
{
    uint64_t flags = PAGE_PRESENT | PAGE_WRITABLE;
    if (uncached)
        flags |= PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH;
    uint64_t end = physical_address + size;
    for (uint64_t page = physical_address & ~(PAGE_SIZE - 1); page < end; page += PAGE_SIZE) {
        if (paging_is_mapped(page) && !uncached)
            continue; /* already reachable through the boot identity map */
        set_entry(current_root(), page, page | flags);
    }
    return (void *)physical_address;
}

void paging_map_kernel_page(uint64_t virtual_address, uint64_t physical_address)
{
    set_entry(master, virtual_address, physical_address | PAGE_PRESENT | PAGE_WRITABLE);
}

uint64_t paging_copy_master(uint64_t root)
{
    if (!root)
        root = (uint64_t)new_table();
    memcpy((void *)root, master, PAGE_SIZE);
    return root;
}

uint64_t paging_master_root(void) { return (uint64_t)master; }

/* The top-level entry for virtual_address, copied from the master into the current page table.
 * Below the top level every page table shares the master's tables, so one entry is enough, and
 * copying it needs no lock: the entry only ever goes from empty to the master's value. */
NOKPROBE bool paging_sync_top_level(uint64_t virtual_address)
{
    unsigned index = index_at(virtual_address, 4);
    uint64_t *root = current_root();
    if (root == master || !(master[index] & PAGE_PRESENT) || root[index] == master[index])
        return false;
    root[index] = master[index];
    return true;
}

void paging_init(void)
{
    master = current_root();
    paging_unmap_page(0); /* so that a NULL pointer faults instead of reading low memory */
}
