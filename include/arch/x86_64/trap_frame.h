/* The trap frame: what every exception entry leaves on the stack before it calls C.
 * The CPU pushes the last five words (and an error code for some vectors); the entry stub pushes
 * a zero error code where the CPU does not, the vector number, and the general registers.
 * Declared once here; the assembler gets the offsets from arch/x86_64/asm_offsets.c. */
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

/* 22 words and no padding, so each field lies at 8 times its place in the list: the five iretq
 * pops (rip, cs, rflags, rsp, ss) in that order, right after the error code. */
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap frame is 22 words");
/* The CPU aligns RSP to 16 before it pushes SS; 22 words keep it aligned for the call into C. */
_Static_assert(sizeof(struct trap_frame) % 16 == 0, "trap frame keeps the stack 16-byte aligned");
