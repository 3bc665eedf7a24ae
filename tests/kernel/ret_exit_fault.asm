; The fault that nmi-ret-exit-all (lab 8, tests/kernel/scenarios_ret_exit.c) makes inside an NMI
; handler. Every general register, RFLAGS and the three words just above RSP hold values of their
; own when the read faults; the exception table sends the fault to ret_exit_fixup, which records
; them again. Both records are taken the same way, by stores that change no register and no flag,
; so after == before exactly when the exception's return gave back everything it interrupted.
;
; A record: rax, rbx, rcx, rdx, rsi, rdi, rbp, r8 ... r15, rsp, rflags, [rsp], [rsp+8], [rsp+16].

UNMAPPED equ 0x0000100000000000         ; tests/kernel/scenario_nmi.h: nothing maps it
; DF, OF, SF, ZF, AF, PF, CF and the always-1 bit: every flag popfq may write but IF and TF
FLAGS equ 0xcd7
; A register's value: its number in bits 24-31 and 32-39, the low 22 bits clear (should a wrong
; exit pop one into RFLAGS, it sets no flag that changes what the CPU does next)
%define VALUE(n) (0x5245000000000000 | (n << 32) | (n << 24))
ABOVE equ 0x57ac000000000000            ; the NMI handler's own words above RSP: ABOVE + 0, 1, 2

%macro RECORD 1
    mov [rel %1 + 0 * 8], rax
    mov [rel %1 + 1 * 8], rbx
    mov [rel %1 + 2 * 8], rcx
    mov [rel %1 + 3 * 8], rdx
    mov [rel %1 + 4 * 8], rsi
    mov [rel %1 + 5 * 8], rdi
    mov [rel %1 + 6 * 8], rbp
    mov [rel %1 + 7 * 8], r8
    mov [rel %1 + 8 * 8], r9
    mov [rel %1 + 9 * 8], r10
    mov [rel %1 + 10 * 8], r11
    mov [rel %1 + 11 * 8], r12
    mov [rel %1 + 12 * 8], r13
    mov [rel %1 + 13 * 8], r14
    mov [rel %1 + 14 * 8], r15
    mov [rel %1 + 15 * 8], rsp
    pushfq
    pop qword [rel %1 + 16 * 8]
    mov rax, [rsp]
    mov [rel %1 + 17 * 8], rax
    mov rax, [rsp + 8]
    mov [rel %1 + 18 * 8], rax
    mov rax, [rsp + 16]
    mov [rel %1 + 19 * 8], rax
    mov rax, [rel %1 + 0 * 8]           ; (mov changes no flag)
%endmacro

section .text
bits 64
global ret_exit_fault, ret_exit_fault_at, ret_exit_fixup, ret_exit_before, ret_exit_after

; void ret_exit_fault(void): called from the NMI handler (interrupts off, the NMI stack)
ret_exit_fault:
    push rbx                            ; what the C ABI asks a function to keep
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov rax, ABOVE + 2
    push rax
    mov rax, ABOVE + 1
    push rax
    mov rax, ABOVE
    push rax
    mov rax, FLAGS
    push rax
    popfq
    mov rax, VALUE(0)
    mov rbx, VALUE(1)
    mov rcx, VALUE(2)
    mov rdx, VALUE(3)
    mov rsi, UNMAPPED                   ; register 4: the address that faults
    mov rdi, VALUE(5)
    mov rbp, VALUE(6)
    mov r8, VALUE(7)
    mov r9, VALUE(8)
    mov r10, VALUE(9)
    mov r11, VALUE(10)
    mov r12, VALUE(11)
    mov r13, VALUE(12)
    mov r14, VALUE(13)
    mov r15, VALUE(14)
    RECORD ret_exit_before
ret_exit_fault_at:
    mov rax, [rsi]                      ; a #PF; RAX is not written
ret_exit_fixup:                         ; where the exception returns (the exception table)
    RECORD ret_exit_after
    mov rsp, [rel ret_exit_before + 15 * 8] ; as it was, whatever the exit did with it
    cld                                 ; the C ABI: DF clear
    add rsp, 24
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

section .exception_table progbits alloc noexec nowrite align=8
    dq ret_exit_fault_at, ret_exit_fixup

section .bss
align 8
ret_exit_before: resq 20
ret_exit_after: resq 20
