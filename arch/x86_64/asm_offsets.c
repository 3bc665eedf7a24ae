/* Compiled to assembly only: the Makefile turns each "->NAME value" string into a NASM %define,
 * so the entry code uses the offsets of the C structures instead of numbers typed by hand.
 * (.ascii rather than a bare line, because clang assembles inline asm even with -S.) */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/nmi_stack.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/trap_frame.h>
#include <arch/x86_64/traps.h>
#include <arch/x86_64/user_mode.h>

#define CONSTANT(name, value) __asm__ volatile(".ascii \"->" #name " %c0\"" : : "i"(value))
#define OFFSET(name, type, field) CONSTANT(name, offsetof(type, field))
#define SIZE(name, type) CONSTANT(name, sizeof(type))

void asm_offsets(void)
{
    OFFSET(TRAP_FRAME_RBP, struct trap_frame, rbp);
    OFFSET(TRAP_FRAME_RAX, struct trap_frame, rax);
    OFFSET(TRAP_FRAME_RIP, struct trap_frame, rip);

    OFFSET(IRET_FRAME_RIP, struct iret_frame, rip);
    OFFSET(IRET_FRAME_CS, struct iret_frame, cs);
    OFFSET(IRET_FRAME_RFLAGS, struct iret_frame, rflags);
    OFFSET(IRET_FRAME_RSP, struct iret_frame, rsp);
    OFFSET(IRET_FRAME_SS, struct iret_frame, ss);
    OFFSET(NMI_STACK_IRET, struct nmi_stack, iret);
    OFFSET(NMI_STACK_OUTERMOST, struct nmi_stack, outermost);
    OFFSET(NMI_STACK_EXECUTING, struct nmi_stack, executing);
    OFFSET(NMI_STACK_SAVED_RDX, struct nmi_stack, saved_rdx);
    OFFSET(NMI_STACK_HARDWARE, struct nmi_stack, hardware);
    SIZE(NMI_STACK_SIZE, struct nmi_stack);
    CONSTANT(NMI_IST_STACK_SIZE, IST_STACK_SIZE - sizeof(struct nmi_cpu_state));
    CONSTANT(VECTOR_NMI, VECTOR_NMI);

    OFFSET(NMI_CPU_ENTRIES, struct nmi_cpu_state, entries);
    OFFSET(NMI_CPU_RET_RUNNING, struct nmi_cpu_state, ret_running);
    OFFSET(NMI_CPU_NESTED, struct nmi_cpu_state, nested);
    OFFSET(NMI_CPU_NESTED_RULE, struct nmi_cpu_state, nested_rule);
    OFFSET(NMI_CPU_NESTED_RIP, struct nmi_cpu_state, nested_rip);
    OFFSET(NMI_CPU_NESTED_RSP, struct nmi_cpu_state, nested_rsp);
    CONSTANT(NESTED_IN_REPEAT_WINDOW, NESTED_IN_REPEAT_WINDOW);
    CONSTANT(NESTED_EXECUTING, NESTED_EXECUTING);
    CONSTANT(NESTED_IRET_WINDOW, NESTED_IRET_WINDOW);

    CONSTANT(CPU_PER_SELECTOR, sizeof(struct cpu) / 16); /* TSS selectors are 16 apart */
    OFFSET(CPU_NMI, struct cpu, nmi);
    CONSTANT(TSS_SELECTOR_0, TSS_SELECTOR(0));

    CONSTANT(KERNEL_CODE_SELECTOR, KERNEL_CODE_SELECTOR);
    CONSTANT(KERNEL_DATA_SELECTOR, KERNEL_DATA_SELECTOR);
    CONSTANT(USER_CODE_SELECTOR, USER_CODE_SELECTOR);
    CONSTANT(USER_DATA_SELECTOR, USER_DATA_SELECTOR);
    CONSTANT(RFLAGS_RESERVED_ONE, RFLAGS_RESERVED_ONE);
    OFFSET(CPU_LOCAL_KERNEL_STACK, struct cpu_local, kernel_stack);
    OFFSET(CPU_LOCAL_USER_RSP, struct cpu_local, user_rsp);
}
