; The ways between user mode and the kernel, apart from interrupts and exceptions (trap_entry.asm)
; and NMIs (nmi_entry.asm): the SYSCALL entry and its return. (A task's first entry into user mode
; is in kernel/user.c; a return to user mode that faults goes to user_return_faulted, there too.)
;
; GS: struct cpu_local (user_mode.h) in the kernel, the user's in user mode; swapgs first on every
; entry from user mode and last on every exit (docs/nmi.md, "NMIs and user mode", on why).

%include "asm_offsets.inc"
%include "arch/x86_64/trap_frame.inc"

VECTOR_SYSCALL     equ 0x100            ; not a CPU vector: marks a system call's trap frame

extern syscall_dispatch, trap_return

section .text.entry progbits alloc exec nowrite align=16 ; no kprobes here; backtraces (linker.ld)
bits 64

; SYSCALL: RCX = the user's RIP, R11 = its RFLAGS, CS and SS from MSR_STAR, RFLAGS masked by
; MSR_FMASK (IF, TF, DF and AC now clear). RSP is still the user's: nothing may be pushed yet.
;
; WINDOW (CVE-2015-3291, docs/nmi.md): an NMI on the first three instructions, or on the return's
; last three, finds RSP as user space chose it, maybe inside the NMI stack; DF is clear here (FMASK
; on the way in, C on the way out), so rule (c) of the nested entry does not take it for nested.
global syscall_entry, syscall_sysretq
syscall_entry:
    swapgs
    mov [gs:CPU_LOCAL_USER_RSP], rsp
    mov rsp, [gs:CPU_LOCAL_KERNEL_STACK]
    ; A struct trap_frame, as if the CPU had pushed an interrupt frame: C sees one layout.
    push USER_DATA_SELECTOR
    push qword [gs:CPU_LOCAL_USER_RSP]
    push r11
    push USER_CODE_SELECTOR
    push rcx
    push 0                              ; error code
    push VECTOR_SYSCALL
    PUSH_TRAP_REGISTERS
    CALL_WITH_TRAP_FRAME syscall_dispatch ; may turn interrupts on, and sleep
    cli
    ; SYSRET with a non-canonical RCX raises #GP in ring 0 on Intel CPUs, with the user's RSP
    ; already loaded: a kernel fault on a stack user space chose. Such a return goes the way
    ; interrupts return, by iretq, which faults on the kernel stack (and the task is killed).
    mov rcx, [rsp + TRAP_FRAME_RIP]
    mov r11, rcx
    shl r11, 16
    sar r11, 16
    cmp r11, rcx
    jne trap_return
    POP_TRAP_REGISTERS
    add rsp, 16                         ; RSP -> the iret frame
    mov rcx, [rsp + IRET_FRAME_RIP]
    mov r11, [rsp + IRET_FRAME_RFLAGS]
    mov rsp, [rsp + IRET_FRAME_RSP]     ; WINDOW: RSP is the user's from here
    swapgs
syscall_sysretq:
    o64 sysret
