/* The trap frame: what every exception entry leaves on the stack before it calls C.
 * The CPU pushes the last five words (and an error code for some vectors); the entry stub pushes
 * a zero error code where the CPU does not, the vector number, and the general registers.
 * Declared once here; the assembler gets the offsets from arch/x86_64/asm_offsets.c, and
 * tests/kernel/kernel_state.h checks the layout the CPU and the entries rely on. */
#pragma once
#include <stdint.h>

struct trap_frame {
    /* pushed by the entry stub, last pushed first */
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code; /* from the CPU, or 0 pushed by the stub */
    /* pushed by the CPU: the interrupt-return frame that iretq pops */
    uint64_t rip, cs, rflags, rsp, ss;
};
