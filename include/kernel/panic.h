/* panic: print why, the registers, CR2 and a backtrace on every console, then stop. */
#pragma once
#include <arch/x86_64/trap_frame.h>

__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *format, ...);
void print_registers(const struct trap_frame *frame); /* the general registers and the iret frame */
/* For a fault: the registers come from the trap frame, the backtrace from the faulting code. */
__attribute__((noreturn, format(printf, 2, 3)))
void panic_trap(const struct trap_frame *frame, const char *format, ...);
