/* Compiled to assembly only: the Makefile turns each "->NAME value" string into a NASM %define,
 * so the entry code uses the offsets of the C structures instead of numbers typed by hand.
 * (.ascii rather than a bare line, because clang assembles inline asm even with -S.) */
#include <arch/x86_64/trap_frame.h>

#define OFFSET(name, type, field) __asm__ volatile(".ascii \"->" #name " %c0\"" : : "i"(offsetof(type, field)))
#define SIZE(name, type) __asm__ volatile(".ascii \"->" #name " %c0\"" : : "i"(sizeof(type)))

void asm_offsets(void);
void asm_offsets(void)
{
    OFFSET(TRAP_FRAME_R15, struct trap_frame, r15);
    OFFSET(TRAP_FRAME_RBP, struct trap_frame, rbp);
    OFFSET(TRAP_FRAME_RAX, struct trap_frame, rax);
    OFFSET(TRAP_FRAME_VECTOR, struct trap_frame, vector);
    OFFSET(TRAP_FRAME_ERROR_CODE, struct trap_frame, error_code);
    OFFSET(TRAP_FRAME_RIP, struct trap_frame, rip);
    SIZE(TRAP_FRAME_SIZE, struct trap_frame);
}
