; Exception entry for vectors 0-31 (the NMI, vector 2, has its own entry in nmi_entry.asm).
;
; Each vector gets a small stub that makes the stack look the same for all of them, then jumps to
; trap_common, which saves the registers and calls trap_dispatch(struct trap_frame *).
;
;   higher addresses
;   +------------------+
;   | ss               |  \
;   | rsp              |   |
;   | rflags           |   | pushed by the CPU (the iret frame)
;   | cs               |   |
;   | rip              |  /
;   | error code       |  <- by the CPU for 8, 10-14, 17, 21, 29, 30; a 0 from the stub otherwise
;   | vector           |  <- stub
;   | rax ... r15      |  <- trap_common: struct trap_frame starts at r15
;   +------------------+
;   lower addresses
;
; Interrupt gates clear IF on entry, so nothing but an NMI or another exception can come in.

%include "asm_offsets.inc"

section .text
bits 64

%assign vector 0
%rep 32
trap_stub_ %+ vector:
%if vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30
%else
    push 0                              ; no error code from the CPU for this vector
%endif
    push vector
    jmp trap_common
%assign vector vector + 1
%endrep

extern trap_dispatch
global trap_common
trap_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld                                 ; the C ABI expects DF clear on function entry
    mov rdi, rsp                        ; argument: the struct trap_frame
    ; A frame record (saved rbp, return address) naming the interrupted code, so a backtrace
    ; taken inside the handler walks on into the function that trapped.
    push qword [rsp + TRAP_FRAME_RIP]
    push qword [rsp + 8 + TRAP_FRAME_RBP]
    mov rbp, rsp
    call trap_dispatch
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                         ; vector and error code
    iretq                               ; note: this also ends NMI blocking, see docs/nmi.md

section .rodata
global trap_entry_table
trap_entry_table:
%assign vector 0
%rep 32
    dq trap_stub_ %+ vector
%assign vector vector + 1
%endrep
