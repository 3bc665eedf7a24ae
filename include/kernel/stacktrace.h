/* Frame-pointer backtraces with function names from the symbol table linked into the kernel. */
#pragma once
#include <stdint.h>

struct kernel_symbol {
    uint64_t address;
    const char *name;
};
/* Generated at build time from the kernel's own symbols (tools/mksyms.sh), sorted by address. */
extern const struct kernel_symbol kernel_symbols[];
extern const unsigned long kernel_symbol_count;

/* The function containing address, and the offset into it; NULL when outside the kernel text. */
const char *symbol_lookup(uint64_t address, uint64_t *offset);
/* Print "  #n address function+offset" for rip, then for each frame on the rbp chain. */
void backtrace_print(uint64_t rip, uint64_t rbp);
/* The address of the kernel function called name, or 0. */
uint64_t symbol_address(const char *name);
