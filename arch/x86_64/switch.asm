; Switching between kernel threads. A thread that is not running is just a stack pointer: the
; callee-saved registers and a return address sit on its stack, where switch_to left them.
;
;   saved_rsp -> r15 r14 r13 r12 rbx rbp | return address
;
; The C ABI says the caller has saved everything else, so these seven words are the whole state.

%include "asm_offsets.inc"
%include "arch/x86_64/trap_frame.inc"      ; PUSH_EACH, POP_EACH
%define SWITCH_REGISTERS rbp, rbx, r12, r13, r14, r15 ; pushed in this order: r15 lowest

section .text
bits 64

; void switch_to(uint64_t *save_rsp, uint64_t new_rsp)
global switch_to
switch_to:
    PUSH_EACH SWITCH_REGISTERS
    mov [rdi], rsp
    mov rsp, rsi
    ; The incoming task starts from one known RFLAGS, not whatever flags the outgoing one had
    ; (AC from a stac window would turn SMAP off; NT would make its next iretq #GP). Interrupts
    ; stay off: every caller has them off, and the switched-to code turns them on itself.
    push RFLAGS_RESERVED_ONE
    popfq
    POP_EACH SWITCH_REGISTERS
    ret

; Where a new thread's first switch_to "returns" to: task_create() leaves the entry function in
; r12 and its argument in r13. Threads start with interrupts on (switch_to ran with them off).
extern task_exit
global task_start
task_start:
    sti
    mov rdi, r13
    call r12
    call task_exit
