; The user programs a user runs from the shell (`user NAME [NUMBER]`, NUMBER in RDI): ring 3
; code built into the kernel image and mapped read-only at USER_BASE in every user task
; (arch/x86_64/user_mode.c). They are position-independent (they run wherever that is) and use no
; data of their own beyond their stack. The attack programs are in tests/kernel/user_attacks.asm;
; linker.ld puts both files' code in one block (user_programs_start .. user_programs_end).
%include "include/kernel/user_programs.inc"

section .rodata.user progbits alloc noexec nowrite align=16
bits 64

PROGRAM "hello", hello, "print a line, exit 0"
    lea rdi, [rel .text]
    SYSTEM_CALL SYS_WRITE, rdi, .end - .text
    SYSTEM_CALL SYS_EXIT, 0
.text: db "hello from user mode", 10
.end:

; syscall-loop N: N system calls (slow and yield in turn), or with N = 0 the test's call until it
; returns 0, with user-mode work between them; every callee-saved register and the stack must come
; back untouched. Exit status: 0, 1 (a call failed) or 2 (a register or the stack changed).
PROGRAM "syscall-loop", syscall_loop, \
        "N system calls; checks its registers and stack survive them"
    mov r12, rdi
    mov rbx, 0x1111111111111111
    mov rbp, 0x2222222222222222
    mov r13, 0x3333333333333333
    mov r14, 0x4444444444444444
    push rbx                            ; their copies: the stack must come back untouched too
    push rbp
    push r13
    push r14
    mov r15, rsp
.again:
    mov ecx, 20000                      ; user-mode work: NMIs land here too
.spin:
    dec ecx
    jnz .spin
    mov eax, SYS_SLOW
    test r12b, 1
    jz .call
    mov eax, SYS_YIELD
.call:
    test r12, r12
    jnz .counted
    mov eax, SYS_TEST                   ; N = 0: the test decides
.counted:
    mov edi, 20
    syscall
    mov edi, 1
    cmp rax, 1
    ja .failed
    mov edi, 2
    cmp r15, rsp
    jne .failed
    cmp rbx, [rsp + 24]
    jne .failed
    cmp rbp, [rsp + 16]
    jne .failed
    cmp r13, [rsp + 8]
    jne .failed
    cmp r14, [rsp]
    jne .failed
    test r12, r12
    jz .test_decides
    mov edi, 1
    test rax, rax                       ; slow and yield return 0
    jnz .failed
    dec r12
    jnz .again
    jmp .done
.test_decides:
    test rax, rax
    jnz .again
.done:
    xor edi, edi
.failed:
    SYSTEM_CALL SYS_EXIT

; read ADDRESS, write ADDRESS: touch memory user mode may not (the task is killed by the #PF).
PROGRAM "read", read, "read ADDRESS (the kernel's, say: killed)"
    mov rax, [rdi]
    SYSTEM_CALL SYS_EXIT, 0
PROGRAM "write", write, "write ADDRESS"
    mov [rdi], rax
    SYSTEM_CALL SYS_EXIT, 0
; read-idt: SIDT is not privileged (without UMIP): the IDT's address is no secret, its contents are.
PROGRAM "read-idt", read_idt, "find the IDT with SIDT and read it"
    sub rsp, 16
    sidt [rsp]
    mov rax, [rsp + 2]
    mov rax, [rax]
    SYSTEM_CALL SYS_EXIT, 0

; Privileged instructions: each raises #GP in ring 3.
PROGRAM "cli", cli_program, "a privileged instruction"
    cli
    SYSTEM_CALL SYS_EXIT, 0
PROGRAM "hlt", hlt_program, "a privileged instruction"
    hlt
    SYSTEM_CALL SYS_EXIT, 0
PROGRAM "read-cr3", read_cr3, "a privileged instruction"
    mov rax, cr3
    SYSTEM_CALL SYS_EXIT, 0
PROGRAM "wrmsr", wrmsr_program, "a privileged instruction"
    xor eax, eax
    xor edx, edx
    mov ecx, 0xc0000082                 ; LSTAR: where SYSCALL goes
    wrmsr
    SYSTEM_CALL SYS_EXIT, 0
PROGRAM "out", out_program, "port I/O"
    mov al, 0x31
    out 0xf4, al                        ; QEMU's debug-exit port: would end the run
    SYSTEM_CALL SYS_EXIT, 0
