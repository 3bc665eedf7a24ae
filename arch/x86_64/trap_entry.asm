; Exception and interrupt entry for all 256 vectors. The NMI (vector 2) has its own entries in
; nmi_entry.asm; the stub here for vector 2 is only used until nmi_init() installs one of them.
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
; Interrupt gates clear IF on entry (and TF and NT, whatever the gate), so nothing but an NMI or
; another exception can come in. From user mode (CS with RPL 3) the CPU has already switched to
; the task's kernel stack (TSS RSP0); the entry swaps GS to the kernel's. The return to user mode
; swaps GS back. AC, which user space may set and the kernel sets in a stac window, is cleared by
; the clac in front of each stub where the CPU has SMAP (idt.c), and means nothing where not.

%include "asm_offsets.inc"
%include "arch/x86_64/trap_frame.inc"


section .text.entry progbits alloc exec nowrite align=16 ; no kprobes here; backtraces (linker.ld)
bits 64

; One stub: the vector (and a 0 where the CPU pushes no error code), then its common code.
%macro TRAP_STUB 3                      ; label, vector, common code
    clac                                ; where the gate points if the CPU has SMAP (idt.c)
%1:
%if %2 == 8 || (%2 >= 10 && %2 <= 14) || %2 == 17 || \
    %2 == 21 || %2 == 29 || %2 == 30    ; the CPU pushed an error code
%else
    push 0                              ; no error code from the CPU for this vector
%endif
    push %2
    jmp %3
%endmacro

%assign vector 0
%rep 256
%if vector == 1
    TRAP_STUB trap_stub_ %+ vector, vector, debug_common
%else
    TRAP_STUB trap_stub_ %+ vector, vector, trap_common
%endif
%assign vector vector + 1
%endrep

; nmi=ret's entries for the exceptions an NMI handler returns from (#DB, #BP, #GP, #PF): their gates
; point here under nmi=ret only, so only its exceptions pay for the test (docs/nmi.md).
TRAP_STUB trap_stub_ret_1, 1, debug_common_ret
TRAP_STUB trap_stub_ret_3, 3, trap_common_ret
TRAP_STUB trap_stub_ret_13, 13, trap_common_ret
TRAP_STUB trap_stub_ret_14, 14, trap_common_ret

; #DB, on its own IST stack, may land where CS says ring 0 but GS is still the user's: on the
; first instruction of syscall_entry (a CPU that single-steps SYSCALL on the TF it found, or a data
; breakpoint that MOV SS / POP SS held back past the SYSCALL: CVE-2018-8897), or of an exception
; stub entered from user mode (the held-back #DB comes before the stub's own swapgs). CS cannot
; tell, so in ring 0 the GS base MSR does: the kernel's is in the upper half, and a user's never
; is (ring 3 cannot write the MSR; CR4.FSGSBASE is off). It leaves the GS it found.
MSR_GS_BASE equ 0xc0000101
%macro DEBUG_COMMON 2                   ; its label, the way out
%1:
    test byte [rsp + 16 + IRET_FRAME_CS], 3
    jnz trap_common                     ; from user mode: CS tells the truth, the usual way in
    PUSH_TRAP_REGISTERS
    mov ecx, MSR_GS_BASE
    rdmsr
    xor ebx, ebx                        ; RBX = 1 if GS was swapped here (C keeps RBX)
    test edx, edx
    js .kernel_gs
    swapgs
    inc ebx
.kernel_gs:
    lfence                              ; as in trap_common
    CALL_WITH_TRAP_FRAME trap_dispatch
    test ebx, ebx
    jz %2                               ; the usual way out (to ring 0: CS says so, rightly)
    swapgs                              ; the user's GS again, as found
    jmp %2
%endmacro
DEBUG_COMMON debug_common, trap_return
DEBUG_COMMON debug_common_ret, trap_return_ret_strategy

extern trap_dispatch
%macro TRAP_COMMON 1-2                  ; its label, and the way out if not the code below
global %1
%1:
    test byte [rsp + 16 + IRET_FRAME_CS], 3 ; above the vector and error code: from user mode?
    jz .from_kernel
    swapgs
.from_kernel:
    lfence                              ; no GS load on a guess of the branch (CVE-2019-1125)
    PUSH_TRAP_REGISTERS
    CALL_WITH_TRAP_FRAME trap_dispatch
%if %0 == 2
    jmp %2
%endif
%endmacro
TRAP_COMMON trap_common_ret, trap_return_ret_strategy
TRAP_COMMON trap_common
; RSP -> a struct trap_frame. Also the way a user task first enters user mode, and the way back
; from a system call that must not use SYSRET (user_entry.asm).
global trap_return, user_iretq, trap_return_into_nmi
extern cpus
trap_return:
    POP_TRAP_REGISTERS
    add rsp, 16                         ; vector and error code
    test byte [rsp + IRET_FRAME_CS], 3
    jnz .to_user
    iretq                               ; note: this also ends NMI blocking, see docs/nmi.md
.to_user:
    swapgs
user_iretq:
    iretq                               ; a fault here kills the task (user_entry.asm)

; nmi=ret: the 2010 answer (docs/nmi.md). An exception taken while nmi_entry_ret's mark is set in
; this CPU's NMI state (found by the task register: debug_common_ret may bring the user's GS) must
; not iretq, which would end NMI blocking. NMIs stay blocked, so nothing lands on the three words
; written below the interrupted RSP (-mno-red-zone) before the ret.
;
;   interrupted stack R = frame rsp           for a non-IST exception its frame is just below:
;   R      | ...the NMI handler's words |      R-8..R-24 may be the frame's ss, rsp, rflags,
;   R -  8 | rip         <- ret pops    |      so they are read before anything is written
;   R - 16 | rflags      <- popfq pops  |
;   R - 24 | rax         <- pop rax     |  <- RSP switched here: "pop rsp" takes it from the
;          | (the trap frame, no IST)   |      trap frame's rax slot, after every other register
trap_return_ret_strategy:
    test byte [rsp + TRAP_FRAME_RIP + IRET_FRAME_CS], 3
    jnz trap_return                     ; to user mode: the iretq, always
    ; LAB 8 BEGIN: back into an interrupted NMI handler without iretq (popfq; ret)
%ifdef NMI_DROP_RET_THIS_CPU            ; `make NMI_BREAK=ret-this-cpu`: CPU 0's, always
    mov eax, TSS_SELECTOR_0
%else
    str eax                             ; this CPU's TSS selector, zero-extended
%endif
    lea rcx, [rel cpus - TSS_SELECTOR_0 * CPU_PER_SELECTOR]
    mov rcx, [rcx + rax * CPU_PER_SELECTOR + CPU_NMI] ; cpus[this CPU].nmi: its NMI state
    cmp byte [rcx + NMI_CPU_RET_RUNNING], 0
    je trap_return                      ; not in an NMI handler: the usual iretq
trap_return_into_nmi:                   ; the iret-less return, from here to the ret
%ifndef NMI_DROP_RET_TEST               ; `make NMI_BREAK=ret-test`: docs/nmi.md
    mov rax, [rsp + TRAP_FRAME_RIP + IRET_FRAME_RSP]
    sub rax, 24
    mov rcx, [rsp + TRAP_FRAME_RIP + IRET_FRAME_RIP]
    mov rdx, [rsp + TRAP_FRAME_RIP + IRET_FRAME_RFLAGS]
    mov [rax + 16], rcx
    mov [rax + 8], rdx
    mov rcx, [rsp + TRAP_FRAME_RAX]
    mov [rax], rcx
    mov [rsp + TRAP_FRAME_RAX], rax     ; the new RSP, popped last
    POP_EACH rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
    pop rsp                             ; RSP = R - 24
    pop rax
    popfq                               ; cannot set RF: see docs/nmi.md
    ret                                 ; NMIs stay blocked until the NMI's own iretq
%else
    jmp trap_return
%endif
    ; LAB 8 STUB
;| trap_return_into_nmi: jmp trap_return ; for now every exception leaves by iretq
    ; LAB 8 END

section .exception_table progbits alloc noexec nowrite align=8
    dq user_iretq, user_return_faulted
extern user_return_faulted

section .rodata
global trap_entry_table, ret_exception_entries, trap_stub_ret_14 ; the last for the tests
ret_exception_entries:                  ; vector, entry: nmi=ret's gates (nmi.c)
    dq 1, trap_stub_ret_1, 3, trap_stub_ret_3, 13, trap_stub_ret_13, 14, trap_stub_ret_14, 0, 0
trap_entry_table:
%assign vector 0
%rep 256
    dq trap_stub_ %+ vector
%assign vector vector + 1
%endrep
