/* The trap frame: what every exception entry leaves on the stack before it calls C.
 * The CPU pushes the last five words (and an error code for some vectors); the entry stub pushes
 * a zero error code where the CPU does not, the vector number, and the general registers.
 * Declared once here; the assembler gets the offsets from arch/x86_64/asm_offsets.c. */
#pragma once
#include <stddef.h>
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

/* iretq pops exactly rip, cs, rflags, rsp, ss in that order, right after the error code. */
#define TRAP_FRAME_AT(field) offsetof(struct trap_frame, field)
_Static_assert(TRAP_FRAME_AT(cs) == TRAP_FRAME_AT(rip) + 8, "iret frame order");
_Static_assert(TRAP_FRAME_AT(rflags) == TRAP_FRAME_AT(rip) + 16, "iret frame order");
_Static_assert(TRAP_FRAME_AT(rsp) == TRAP_FRAME_AT(rip) + 24, "iret frame order");
_Static_assert(TRAP_FRAME_AT(ss) == TRAP_FRAME_AT(rip) + 32, "iret frame order");
_Static_assert(TRAP_FRAME_AT(error_code) + 8 == TRAP_FRAME_AT(rip), "error code below rip");
#undef TRAP_FRAME_AT
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap frame is 22 words");
/* The CPU aligns RSP to 16 before it pushes SS; 22 words keep it aligned for the call into C. */
_Static_assert(sizeof(struct trap_frame) % 16 == 0, "trap frame keeps the stack 16-byte aligned");
