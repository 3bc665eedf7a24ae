/* The live trace of the NMI stack (nmi=nested), behind the shell's `trace on`, `make pictures`
 * and the nmi-trace scenario: its top words at each step of the next nested NMI (nmi_trace.c). */
#pragma once
#include <stdbool.h>
#include <arch/x86_64/trap_frame.h>

void nmi_trace_arm(bool on);
void nmi_trace_pass_start(const struct trap_frame *frame); /* from nmi_nested_handle */
void nmi_trace_pass_end(const struct trap_frame *frame);
/* Outside NMI context: if an episode was recorded, take the exit picture and print everything. */
bool nmi_trace_print(void);
