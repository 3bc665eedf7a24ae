/* The live trace of the NMI stack (nmi=nested), behind the shell's `trace on`, `make pictures`
 * and the nmi-trace scenario: the next NMI that has a nested NMI is
 * recorded -- the words at the top of the NMI stack at arrival, after the nested NMI rewrote the
 * iret frame, at the start of the repeat, and after the exit -- and printed. */
#pragma once
#include <stdbool.h>
#include <arch/x86_64/trap_frame.h>

void nmi_trace_arm(bool on);
void nmi_trace_pass_start(const struct trap_frame *frame); /* from nmi_nested_handle */
void nmi_trace_pass_end(const struct trap_frame *frame);
/* Outside NMI context: if an episode was recorded, take the exit picture and print everything. */
bool nmi_trace_print(void);
