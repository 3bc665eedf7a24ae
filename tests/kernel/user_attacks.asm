; The attack programs: ring 3 code that does what a hostile program would (bad pointers, random
; system calls, RSP in the NMI stack, a return that faults). They sit in the same user block as the
; kernel's own programs (kernel/user_programs.asm) and are run the same way; the scenarios in
; scenarios_user.c install the test system calls some of them need.
%include "include/kernel/user_programs.inc"
; What only these programs check for: errors (include/kernel/user.h) and where user space begins
EFAULT    equ 14
EINVAL    equ 22
ENOSYS    equ 38
USER_BASE equ 0x0000008000000000                ; arch/x86_64/user_mode.h

section .rodata.user progbits alloc noexec nowrite align=16
bits 64

; bad-syscalls: pointers the kernel must refuse, and numbers it does not have. Each result is
; checked; the exit status is 0, or the number of the first check that failed.
%macro EXPECT 6                         ; check number, call, rdi, rsi, expected result
    mov eax, %2
    mov rdi, %3
    mov rsi, %4
    syscall
    mov edi, %1
    cmp rax, %5
    jne bad_syscalls.failed
%endmacro
PROGRAM "bad-syscalls", bad_syscalls, "bad pointers and numbers: each must get an error"
    EXPECT 1, SYS_WRITE, 0xffffffff80100000, 8, -EFAULT, 0    ; the kernel image
    EXPECT 2, SYS_WRITE, 0x100000, 8, -EFAULT, 0              ; low memory: mapped, but the kernel's
    EXPECT 3, SYS_WRITE, USER_BASE + 0x100000, 8, -EFAULT, 0  ; user range, not mapped
    EXPECT 4, SYS_WRITE, USER_BASE + 0x1ffffc, 8, -EFAULT, 0  ; runs past the end of user space
    EXPECT 5, SYS_WRITE, rsp, 100000, -EINVAL, 0
    EXPECT 6, SYS_WRITE, -8, 16, -EFAULT, 0                   ; address + length wraps around
    EXPECT 7, 999, 0, 0, -ENOSYS, 0
    EXPECT 8, -1, 0, 0, -ENOSYS, 0
    EXPECT 9, SYS_TEST, 0, 0, -ENOSYS, 0                      ; no test call installed
    EXPECT 10, SYS_SLOW, 1000000, 0, -EINVAL, 0
    EXPECT 11, SYS_NMI_COUNTS, 0xffffffff80100000, 0, -EFAULT, 0 ; writes: the kernel image,
    lea rdi, [rel bad_syscalls]
    EXPECT 12, SYS_NMI_COUNTS, rdi, 0, -EFAULT, 0             ; a read-only user page,
    EXPECT 13, SYS_NMI_COUNTS, USER_BASE + 0x1ffff0, 0, -EFAULT, 0 ; past the end of user space
    sub rsp, 24
    EXPECT 14, SYS_NMI_COUNTS, rsp, 0, 0, 0                   ; and the stack: fine
    add rsp, 24
    lea rdi, [rel .ok]
    EXPECT 15, SYS_WRITE, rdi, .end - .ok, .end - .ok, 0      ; and a good write still works
    xor edi, edi
.failed:
    SYSTEM_CALL SYS_EXIT
.ok: db "bad-syscalls: every bad call refused", 10
.end:

; fuzz SEED: 3000 system calls with random numbers and arguments (xorshift64). Exit status: the
; number of results that were neither a small count nor -EFAULT, -EINVAL or -ENOSYS.
PROGRAM "fuzz", fuzz, "3000 random system calls from seed N"
    mov r12, rdi
    or r12, 1
    mov r13d, 3000
    xor r14d, r14d
.again:
    call .random
    mov r15, rax                        ; the number: mostly 0-15, sometimes any 64-bit value
    cmp al, 0xf0
    jae .arguments
    and r15d, 15
    cmp r15d, SYS_EXIT
    jne .arguments
    mov r15d, SYS_YIELD
.arguments:
    call .random
    mov rbx, rax                        ; rdi: random, or small (a short slow, say)
    test al, 3
    jnz .second
    and ebx, 0xfff
.second:
    call .random
    mov rsi, rax
    test al, 1
    jz .third
    and esi, 0x1ff
.third:
    call .random
    mov rdx, rax
    mov rdi, rbx
    mov rax, r15
    syscall
    cmp rax, -ENOSYS
    jl .unexpected
    cmp rax, 256
    jle .next
.unexpected:
    inc r14
.next:
    dec r13d
    jnz .again
    SYSTEM_CALL SYS_EXIT, r14
.random:                                ; xorshift64 in r12, the new value in rax too
    mov rax, r12
    shl rax, 13
    xor r12, rax
    mov rax, r12
    shr rax, 7
    xor r12, rax
    mov rax, r12
    shl rax, 17
    xor r12, rax
    mov rax, r12
    ret

; rsp-in-nmi-stack ADDRESS (CVE-2015-3291): point RSP into the kernel's NMI stack, then make
; system calls while the test's call returns 1. SYSCALL does not change RSP, so the kernel's
; entry starts with RSP there. Without the test the first call fails and the program exits.
PROGRAM "rsp-in-nmi-stack", rsp_in_nmi_stack, \
        "system calls with RSP at ADDRESS (CVE-2015-3291; needs a test)"
    mov r12, rdi
    mov r13, rsp
.again:
    mov rsp, r12
    std                                 ; DF set too: the SYSCALL entry must not see it (FMASK)
    mov eax, SYS_TEST
    syscall
    mov rsp, r13
    cmp rax, 1                          ; 1: go on; 0: done; -ENOSYS: no test installed
    je .again
    SYSTEM_CALL SYS_EXIT, rax

; cs-not-present: the test's call makes the user code segment not present and returns with
; interrupts off; the next return to user mode by iretq (an NMI's) faults. (Without the test:
; exit, with the call's error.)
PROGRAM "cs-not-present", cs_not_present, "the next iretq to user mode faults (needs a test)"
    SYSTEM_CALL SYS_TEST + 1
    test rax, rax
    jnz .no_test                        ; -ENOSYS: run from the shell, say
.spin:
    jmp .spin
.no_test:
    SYSTEM_CALL SYS_EXIT, rax

; noncanonical: the test's call sets the return address to a non-canonical one.
PROGRAM "noncanonical", noncanonical_return, "returns to a non-canonical RIP (needs a test)"
    SYSTEM_CALL SYS_TEST + 2
    SYSTEM_CALL SYS_EXIT, 0

; rflags FLAGS (Linux's syscall_nt selftest has the idea): set FLAGS (NT, AC, DF, ID: flags ring 3
; may set) with popfq, then, RFLAGS_ROUNDS times, make each system call (a yield, a copy to user
; memory, one from it, a slow one, the test's call, an unknown number) and check after each one
; that RFLAGS still holds FLAGS: SYSRET gives back the program's own (R11). The kernel must not run
; with them, nor hand them to the task it switches to. Exit status 0, or 1: a call lost a flag.
RFLAGS_ROUNDS equ 100
%macro CALL_KEEPING_FLAGS 1-3
    SYSTEM_CALL %{1:-1}
    call .check
%endmacro
PROGRAM "rflags", rflags_syscalls, "sets FLAGS (NT, AC, DF...) and makes every system call"
    mov r12, rdi
    mov r13d, RFLAGS_ROUNDS
    sub rsp, 32                         ; room for the three words SYS_NMI_COUNTS writes
    pushfq
    or [rsp], r12
    popfq
.again:
    CALL_KEEPING_FLAGS SYS_YIELD
    CALL_KEEPING_FLAGS SYS_NMI_COUNTS, rsp
    CALL_KEEPING_FLAGS SYS_WRITE, rsp, 0
    CALL_KEEPING_FLAGS SYS_SLOW, 20
    CALL_KEEPING_FLAGS SYS_TEST
    CALL_KEEPING_FLAGS 999
    dec r13d
    jnz .again
    SYSTEM_CALL SYS_EXIT, 0
.check:                                 ; RFLAGS must still hold every flag of r12
    pushfq
    pop rax
    and rax, r12
    cmp rax, r12
    jne .lost
    ret
.lost:
    SYSTEM_CALL SYS_EXIT, 1

; single-step-syscall (Linux's single_step_syscall selftest has the idea): TF set by popfq right
; before a SYSCALL. SYSCALL takes its single-step decision on the TF it leaves, which FMASK cleared:
; no #DB in the kernel. SYSRET sets TF again from R11, so the #DB comes in user mode, on the
; instruction after the SYSCALL, and the kernel kills the program for it (it has no debugger).
PROGRAM "single-step-syscall", single_step_syscall, "a system call with TF set: killed by #DB"
    mov eax, SYS_YIELD
    pushfq
    or qword [rsp], 1 << 8              ; TF
    popfq
    syscall                             ; the first instruction that runs with TF set
    SYSTEM_CALL SYS_EXIT, 0             ; not reached: the #DB kills the program before this

; pop-ss-syscall / pop-ss-int3 (CVE-2018-8897; Linux's mov_ss_trap selftest has the idea): the
; test's call arms a data breakpoint on a stack word holding SS's own selector; loading SS from it
; delays the #DB past the next instruction, so it lands on the first instruction the kernel runs
; for the SYSCALL (or the int3), in ring 0, before the entry's swapgs and (for SYSCALL) its stack
; switch. Exit status 0 after the SYSCALL (and a yield); the int3 is a #GP (its gate is DPL 0),
; which kills the program, unless the CPU took the #DB at once, in user mode (QEMU's TCG).
%macro POP_SS_BEFORE 1
    sub rsp, 16
    mov word [rsp], ss                  ; the watched word: SS's own selector, so loading it is fine
    mov rdi, rsp
    SYSTEM_CALL SYS_TEST + 3            ; arms DR0 on [rdi], 2 bytes, on reads and writes
    test rax, rax
    jnz .no_test
    mov eax, SYS_YIELD
    mov ss, [rsp]                       ; the #DB is held back one instruction...
    %1                                  ; ...and taken after this one, on the kernel's first
    SYSTEM_CALL SYS_EXIT, 0
.no_test:
    SYSTEM_CALL SYS_EXIT, rax
%endmacro
PROGRAM "pop-ss-syscall", pop_ss_syscall, "SYSCALL right after a watched MOV SS (needs a test)"
    POP_SS_BEFORE syscall
PROGRAM "pop-ss-int3", pop_ss_int3, "int3 right after a watched MOV SS (needs a test)"
    POP_SS_BEFORE int3

; int N (0-255): `int N` from ring 3. Every gate is DPL 0, so each is a #GP (error code N * 8 + 2)
; that kills the program; exit status 0 means the gate let user mode call the vector's handler.
; The table's stubs are `int N; ret`, 3 bytes each: CD N written out (NASM makes `int 1` F1, ICEBP).
PROGRAM "int", int_vector, "int N from user mode: killed by #GP (every gate is DPL 0)"
    and edi, 0xff
    lea rax, [rel .table]
    lea rdi, [rdi + rdi * 2]
    add rax, rdi
    call rax
    SYSTEM_CALL SYS_EXIT, 0
.table:
%assign vector 0
%rep 256
    db 0xcd, vector
    ret
%assign vector vector + 1
%endrep
