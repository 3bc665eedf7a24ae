/* Page tables. The boot code maps physical 0-4 GiB at the same addresses, its first GiB also at
 * KERNEL_VMA (one directory: a change there shows in both); this file splits 2 MiB pages. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define PAGE_PRESENT (1UL << 0)
#define PAGE_WRITABLE (1UL << 1)
#define PAGE_WRITE_THROUGH (1UL << 3)
#define PAGE_CACHE_DISABLE (1UL << 4)
#define PAGE_HUGE (1UL << 7)
#define PAGE_ADDRESS_MASK 0x000ffffffffff000UL

void paging_init(void); /* unmaps the null page */
/* Maps device memory at virtual = physical (uncached for registers, not for framebuffers,
 * where the firmware's MTRRs already choose write-combining). Returns the pointer to use. */
void *paging_map_device(uint64_t physical_address, uint64_t size, bool uncached);

/* The master page table (the boot one) holds every kernel mapping; other page tables are copies of
 * it (one per task or per CPU, in a bigger kernel) and may lag behind at the top level. */
uint64_t paging_master_root(void);
/* A copy of the master's top level as it is now, into root (0: a new table); returns its physical
 * address. */
uint64_t paging_copy_master(uint64_t root);
/* Both in the master table; unmapping returns the page's physical address, or 0. */
void paging_map_kernel_page(uint64_t virtual_address, uint64_t physical_address);
uint64_t paging_unmap_page(uint64_t virtual_address);
bool paging_sync_top_level(uint64_t virtual_address); /* copy the master's top-level entry */
