; The user programs: ring 3 code built into the kernel image and mapped read-only at USER_BASE in
; every user task (arch/x86_64/user_mode.c). They are position-independent (they run wherever that
; is) and use no data of their own beyond their stack. `user NAME [NUMBER]` in the shell runs one
; with NUMBER in RDI; the scenarios in scenarios_user.c run them all.
;
; System calls (include/kernel/user.h): number in EAX, arguments in RDI, RSI, RDX, result in RAX;
; SYSCALL itself overwrites RCX and R11.

SYS_WRITE equ 0
SYS_EXIT  equ 1
SYS_YIELD equ 2
SYS_SLOW  equ 3
SYS_NMI_COUNTS equ 4
SYS_TEST  equ 8                         ; 8 to 11: what a test scenario installed
EFAULT    equ 14
EINVAL    equ 22
ENOSYS    equ 38
USER_BASE equ 0x0000008000000000

%macro SYSTEM_CALL 1-3                  ; number, then the arguments (which may be in rax)
%if %0 >= 2
    mov rdi, %2
%endif
%if %0 >= 3
    mov rsi, %3
%endif
    mov eax, %1
    syscall
%endmacro

section .rodata.user progbits alloc noexec nowrite align=4096
bits 64
global user_programs_start, user_programs_end
user_programs_start:

hello:
    lea rdi, [rel .text]
    SYSTEM_CALL SYS_WRITE, rdi, .end - .text
    SYSTEM_CALL SYS_EXIT, 0
.text: db "hello from user mode", 10
.end:

; syscall-loop N: N system calls (slow and yield in turn), or with N = 0 the test's call until it
; returns 0, with user-mode work between them; every callee-saved register and the stack must come
; back untouched. Exit status: 0, 1 (a call failed) or 2 (a register or the stack changed).
syscall_loop:
    mov r12, rdi
    mov rbx, 0x1111111111111111
    mov rbp, 0x2222222222222222
    mov r13, 0x3333333333333333
    mov r14, 0x4444444444444444
    mov r15, rsp
    push r13
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
    mov r8, rax
    mov edi, 1
    cmp rax, 1
    ja .failed
    mov edi, 2
    mov rax, 0x1111111111111111
    cmp rbx, rax
    jne .failed
    mov rax, 0x2222222222222222
    cmp rbp, rax
    jne .failed
    mov rax, 0x3333333333333333
    cmp r13, rax
    jne .failed
    cmp [rsp], rax
    jne .failed
    mov rax, 0x4444444444444444
    cmp r14, rax
    jne .failed
    lea rax, [rsp + 8]
    cmp r15, rax
    jne .failed
    test r12, r12
    jz .test_decides
    mov edi, 1
    test r8, r8                         ; slow and yield return 0
    jnz .failed
    dec r12
    jnz .again
    jmp .done
.test_decides:
    test r8, r8
    jnz .again
.done:
    xor edi, edi
.failed:
    SYSTEM_CALL SYS_EXIT

; read ADDRESS, write ADDRESS: touch memory user mode may not (the task is killed by the #PF).
read:
    mov rax, [rdi]
    SYSTEM_CALL SYS_EXIT, 0
write:
    mov [rdi], rax
    SYSTEM_CALL SYS_EXIT, 0
; read-idt: SIDT is not privileged (without UMIP): the IDT's address is no secret, its contents are.
read_idt:
    sub rsp, 16
    sidt [rsp]
    mov rax, [rsp + 2]
    mov rax, [rax]
    SYSTEM_CALL SYS_EXIT, 0

; Privileged instructions: each raises #GP in ring 3.
cli_program:
    cli
    SYSTEM_CALL SYS_EXIT, 0
hlt_program:
    hlt
    SYSTEM_CALL SYS_EXIT, 0
read_cr3:
    mov rax, cr3
    SYSTEM_CALL SYS_EXIT, 0
wrmsr_program:
    xor eax, eax
    xor edx, edx
    mov ecx, 0xc0000082                 ; LSTAR: where SYSCALL goes
    wrmsr
    SYSTEM_CALL SYS_EXIT, 0
out_program:
    mov al, 0x31
    out 0xf4, al                        ; QEMU's debug-exit port: would end the run
    SYSTEM_CALL SYS_EXIT, 0

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
bad_syscalls:
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
fuzz:
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
rsp_in_nmi_stack:
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
cs_not_present:
    SYSTEM_CALL SYS_TEST + 1
    test rax, rax
    jnz .no_test                        ; -ENOSYS: run from the shell, say
.spin:
    jmp .spin
.no_test:
    SYSTEM_CALL SYS_EXIT, rax

; noncanonical: the test's call sets the return address to a non-canonical one.
noncanonical_return:
    SYSTEM_CALL SYS_TEST + 2
    SYSTEM_CALL SYS_EXIT, 0

align 4096, db 0xcc                     ; the last page holds nothing of the kernel's
user_programs_end:

; The table kernel/user.c reads: name, what it does, entry offset.
%macro PROGRAM 3
    dq %%name, %%about, %2 - user_programs_start
section .rodata
%%name: db %1, 0
%%about: db %3, 0
section .rodata.table
%endmacro
section .rodata.table progbits alloc noexec nowrite align=8
global user_program_table
user_program_table:
    PROGRAM "hello", hello, "print a line, exit 0"
    PROGRAM "syscall-loop", syscall_loop, "N system calls; checks its registers and stack survive them"
    PROGRAM "read", read, "read ADDRESS (the kernel's, say: killed)"
    PROGRAM "write", write, "write ADDRESS"
    PROGRAM "read-idt", read_idt, "find the IDT with SIDT and read it"
    PROGRAM "cli", cli_program, "a privileged instruction"
    PROGRAM "hlt", hlt_program, "a privileged instruction"
    PROGRAM "read-cr3", read_cr3, "a privileged instruction"
    PROGRAM "wrmsr", wrmsr_program, "a privileged instruction"
    PROGRAM "out", out_program, "port I/O"
    PROGRAM "bad-syscalls", bad_syscalls, "bad pointers and numbers: each must get an error"
    PROGRAM "fuzz", fuzz, "3000 random system calls from seed N"
    PROGRAM "rsp-in-nmi-stack", rsp_in_nmi_stack, "system calls with RSP at ADDRESS (CVE-2015-3291; needs a test)"
    PROGRAM "cs-not-present", cs_not_present, "the next iretq to user mode faults (needs a test)"
    PROGRAM "noncanonical", noncanonical_return, "returns to a non-canonical RIP (needs a test)"
    dq 0, 0, 0
