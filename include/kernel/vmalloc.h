/* vmalloc: virtually contiguous kernel memory from scattered physical pages, mapped in the master
 * page table only. Another page table gets the area's top-level entry on its first touch, from
 * the page-fault handler -- which is why code in an NMI may take a page fault here. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMALLOC_START 0xffffff0000000000UL /* top-level slot 510, next to the kernel's 511 */
#define VMALLOC_END 0xffffff0040000000UL   /* 1 GiB */

void *vmalloc(size_t size); /* zeroed; NULL when out of memory or address space */
void vfree(void *area, size_t size); /* area and size as given to and by vmalloc */
bool vmalloc_fault(uint64_t address); /* the #PF handler's hook: fixed by the top-level entry? */
extern volatile uint64_t vmalloc_faults;
/* A page table as a task or another CPU made before the vmalloc area had its top-level entry:
 * a copy of the master without that entry. Its physical address, for CR3. */
uint64_t vmalloc_stale_page_table(void);
