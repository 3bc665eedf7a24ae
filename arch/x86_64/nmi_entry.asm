; The NMI entry points: three ways to enter an NMI handler, side by side.
;
;   nmi_entry_naive   IST stack; save registers, call C, iretq. Broken on purpose (see below).
;   nmi_entry_nested  IST stack, plus the repeat-frame algorithm that makes nesting safe.
;   nmi_entry_latch   no IST: the current stack, and a C state machine (the i386 answer).
;
; nmi_entry_nested also has a second path, for NMIs that interrupted user mode (the end of this
; file): they move to the task's kernel stack and run under the latch's C state machine.
;
; nmi_init() (kernel/nmi.c) points IDT vector 2 at one of them. All three end in the same C
; handler chain (nmi_dispatch in kernel/nmi.c).
;
; THE PROBLEM. The CPU blocks NMIs from the delivery of one NMI until the next iretq -- any
; iretq. An NMI handler that takes a page fault or hits an int3 returns from that exception with
; iretq, and from then on a second NMI can come in while the first handler is still running. With
; an IST gate the CPU loads the same stack pointer for every NMI, so the second NMI writes its frame
; over the first one's: when the first NMI finally returns, its return frame is gone.
;
; Rule for reading this file: between the arrival of an NMI and the point where "NMI executing"
; is set, NMIs are blocked and nothing can interrupt (nmilab has no #MC or #DB there). After the
; first iretq inside the handler, a nested NMI can land on ANY instruction; each place where that
; needs thought is marked "WINDOW".

%include "asm_offsets.inc"
%include "arch/x86_64/trap_frame.inc"

RFLAGS_DF_IN_SECOND_BYTE equ (1 << 10) >> 8
; This CPU's struct nmi_cpu_state sits right above the top of its NMI IST stack (stacks.c): on an
; IST entry RSP points at the hardware frame, and the state is just above it. So each CPU's entry
; finds its own state without a register, and without GS (which may still be the user's).
STATE_ABOVE_HARDWARE_FRAME equ NMI_STACK_SIZE - NMI_STACK_HARDWARE

extern nmi_naive_handle, nmi_ret_handle, nmi_latch_entry, nmi_latch_handle, nmi_nested_handle
extern user_return_faulted

section .text.entry progbits alloc exec nowrite align=16 ; no kprobes here; backtraces (linker.ld)
bits 64

; ---------------------------------------------------------------------------------------------
; naive and latch: the same few instructions, differing in the C function they call (and in the
; IDT gate: the naive gate has an IST stack, the latch gate does not). Both count the NMI in C.
;
; Naive: a nested NMI (after a fault's iretq) lands on the same IST stack top and overwrites this
; entry's saved registers and hardware frame. nmi_naive_handle() notices on the way out by
; comparing the frame with a copy it keeps elsewhere, and panics with both. nmi=naive-raw skips the
; check: iretq then "returns" through the nested NMI's frame, into the middle of the first handler.
;
; Latch: no IST, so a nested NMI pushes its frame below the running handler's frame, on whatever
; stack was in use, and nothing is overwritten. nmi_latch_handle() turns it into one more pass.
; ---------------------------------------------------------------------------------------------
%macro SIMPLE_NMI_ENTRY 2-3
global %1
    clac                                ; the gate points here where the CPU has SMAP (idt.c)
%1:
%if %0 == 3                             ; ret: naive's, but an NMI from user mode goes as nested's
    test byte [rsp + IRET_FRAME_CS], 3
    jnz %3
    mov byte [rsp + STATE_ABOVE_HARDWARE_FRAME + NMI_CPU_RET_RUNNING], 1 ; for the exceptions' exit
%endif
    push 0                              ; error code slot
    push VECTOR_NMI
    PUSH_TRAP_REGISTERS
    CALL_WITH_TRAP_FRAME %2
.returned:                              ; (a place for the tests to stop at: tests/run.py)
    POP_TRAP_REGISTERS
    add rsp, 16
%if %0 == 3                             ; no exception can come between this and the iretq
    mov byte [rsp + STATE_ABOVE_HARDWARE_FRAME + NMI_CPU_RET_RUNNING], 0
%endif
    iretq
%endmacro

SIMPLE_NMI_ENTRY nmi_entry_naive, nmi_naive_handle
SIMPLE_NMI_ENTRY nmi_entry_latch, nmi_latch_entry
SIMPLE_NMI_ENTRY nmi_entry_ret, nmi_ret_handle, nmi_from_user

; ---------------------------------------------------------------------------------------------
; nested: the repeat-frame algorithm.
;
; The top of the NMI IST stack (struct nmi_stack in include/arch/x86_64/nmi_stack.h), with the
; trap frame for C below it. T is the IST stack top; offsets in words below it.
;
;   T + 0..    | this CPU's nmi_cpu_state  |  counters, the last nested NMI's rule and place
;   T -  1..5  +---------------------------+
;              | hardware frame            |  written by the CPU on EVERY NMI, nested too:
;              |   ss rsp rflags cs rip    |  only trusted until it is copied to "outermost"
;   T -  6     | saved rdx                 |  scratch for the checks below
;   T -  7     | "NMI executing"           |  1 while an NMI is being handled
;   T -  8..12 | outermost frame           |  copy of the first NMI's hardware frame; the place
;              |   ss rsp rflags cs rip    |  the interrupted code resumes. Never rewritten.
;   T - 13..17 | iret frame                |  copy of outermost, made before each pass; what the
;              |   ss rsp rflags cs rip    |  final iretq pops. Nested NMIs point it at repeat_nmi.
;              +---------------------------+  <- struct nmi_stack starts here
;              | error code (0), vector 2  |  \ struct trap_frame for C: its rip..ss
;              | rax ... r15               |  / fields ARE the iret frame above
;              | C handler frames ...      |
;
; What each NMI does on arrival, after saving rdx:
;   (a) interrupted RIP in [repeat_nmi, end_repeat_nmi): it landed while the first NMI was
;       setting up another pass, which will handle whatever this NMI was for. Just iretq.
;   (b) "NMI executing" is set: it is nested. Point the iret frame at repeat_nmi, iretq.
;   (c) the interrupted RSP is on this NMI stack and RFLAGS.DF is set: it landed in the exit
;       window after "NMI executing" was cleared and before the final iretq (the exit sets DF
;       first, which C code never leaves set, so this cannot be mistaken). Same as (b).
;   Otherwise it is a first NMI: copy the hardware frame to outermost and go on.
; ---------------------------------------------------------------------------------------------

; AT_x: the offset of field x of struct nmi_stack from RSP, while RSP points at the saved-rdx slot
; (from the `push rdx` at entry until the `pop rdx` before leaving or going on).
%define FROM_SAVED_RDX(field) (field - NMI_STACK_SAVED_RDX)
AT_HARDWARE_RIP    equ FROM_SAVED_RDX(NMI_STACK_HARDWARE + IRET_FRAME_RIP)
AT_HARDWARE_RFLAGS equ FROM_SAVED_RDX(NMI_STACK_HARDWARE + IRET_FRAME_RFLAGS)
AT_HARDWARE_RSP    equ FROM_SAVED_RDX(NMI_STACK_HARDWARE + IRET_FRAME_RSP)
AT_EXECUTING       equ FROM_SAVED_RDX(NMI_STACK_EXECUTING)
AT_IRET            equ FROM_SAVED_RDX(NMI_STACK_IRET)
AT_OUTERMOST       equ FROM_SAVED_RDX(NMI_STACK_OUTERMOST)
AT_STACK_TOP       equ FROM_SAVED_RDX(NMI_STACK_SIZE)
AT_STATE           equ AT_STACK_TOP       ; this CPU's struct nmi_cpu_state

global nmi_entry_nested, repeat_nmi, end_repeat_nmi, nmi_exit_iretq
    clac                                ; SMAP: in front of the checks, on nested NMIs too (idt.c)
nmi_entry_nested:
    inc qword [rsp + STATE_ABOVE_HARDWARE_FRAME + NMI_CPU_ENTRIES]
    ; LAB 7 BEGIN: an NMI from user mode leaves the IST stack (the end of this file)
%ifndef NMI_DROP_USER_STACK_SWITCH             ; `make NMI_BREAK=user-stack-switch`: docs/nmi.md
    test byte [rsp + IRET_FRAME_CS], 3  ; the hardware frame is at RSP: RPL 3 is user mode
    jnz nmi_from_user
%endif
    ; LAB 7 STUB
    ; LAB 7 END
    push rdx

    ; LAB 4 BEGIN: the three questions (a), (b), (c) that tell a nested NMI from a first one
%ifndef NMI_DROP_REPEAT_WINDOW_CHECK           ; `make NMI_BREAK=...`: see docs/nmi.md
    ; (a) in the repeat window? One unsigned compare: RIP - repeat_nmi < window length.
    mov rdx, [rsp + AT_HARDWARE_RIP]
    sub rdx, repeat_nmi
    cmp rdx, end_repeat_nmi - repeat_nmi
    jb nmi_in_repeat_window
%endif

%ifndef NMI_DROP_EXECUTING_CHECK
    ; (b) a first NMI is running?
    cmp qword [rsp + AT_EXECUTING], 1
    je nested_nmi
%endif

%ifndef NMI_DROP_IRET_WINDOW_CHECK
    ; (c) in the exit window? DF set (rare) first, then RSP within this IST stack. DF is what
    ; tells the exit window from user space that pointed RSP into this stack and then made a
    ; system call (CVE-2015-3291: SYSCALL leaves RSP alone, and clears DF).
%ifdef NMI_DROP_DF_TEST                        ; `make NMI_BREAK=df-test`: the check before 2015
    jmp nmi_check_exit_window
%else
    test byte [rsp + AT_HARDWARE_RFLAGS + 1], RFLAGS_DF_IN_SECOND_BYTE
    jnz nmi_check_exit_window
%endif
%endif
    ; LAB 4 STUB
    ; LAB 4 END

first_nmi:
    pop rdx
    sub rsp, 16                         ; RSP -> "NMI executing" (set in repeat_nmi)
    ; Copy the hardware frame to outermost: each push reads the word 6 slots up, which after
    ; the previous push is the next lower word of the hardware frame (ss first, rip last).
    push qword [rsp + 6 * 8]
    push qword [rsp + 6 * 8]
    push qword [rsp + 6 * 8]
    push qword [rsp + 6 * 8]
    push qword [rsp + 6 * 8]
    ; RSP -> outermost. Fall into repeat_nmi: the first pass is set up exactly like a repeat.

; WINDOW: the exit path below irets here (with NMIs unblocked) when a nested NMI asked for another
; pass. A nested NMI landing between here and end_repeat_nmi is case (a): this code is about to
; run the handler again anyway, and the iret frame may be half copied, so it must not be touched.
repeat_nmi:                             ; RSP -> outermost frame
    mov qword [rsp + NMI_STACK_EXECUTING - NMI_STACK_OUTERMOST], 1
    ; Copy outermost to the iret frame, the same way: 4 slots up is the next word to copy.
    push qword [rsp + 4 * 8]
    push qword [rsp + 4 * 8]
    push qword [rsp + 4 * 8]
    push qword [rsp + 4 * 8]
    push qword [rsp + 4 * 8]
end_repeat_nmi:                         ; RSP -> iret frame; from here on, case (b) applies
    push 0                              ; error code slot
    push VECTOR_NMI
    PUSH_TRAP_REGISTERS
    CALL_WITH_TRAP_FRAME nmi_nested_handle
    POP_TRAP_REGISTERS
    add rsp, 16                         ; RSP -> iret frame

    ; WINDOW: once "NMI executing" is 0, a nested NMI cannot tell by (b) that it interrupted us.
    ; Set DF first: case (c) recognises DF + an RSP on this stack. The iretq restores the
    ; interrupted code's own DF from the frame.
    std
    mov qword [rsp + NMI_STACK_EXECUTING], 0
nmi_exit_iretq:
    iretq                               ; to the interrupted code, or to repeat_nmi

nmi_check_exit_window:                     ; DF was set: is the interrupted RSP on this NMI stack?
    lea rdx, [rsp + AT_STACK_TOP]
    cmp [rsp + AT_HARDWARE_RSP], rdx
    ja first_nmi
    sub rdx, NMI_IST_STACK_SIZE
    cmp [rsp + AT_HARDWARE_RSP], rdx
    jb first_nmi
    mov qword [rsp + AT_STATE + NMI_CPU_NESTED_RULE], NESTED_IRET_WINDOW
    jmp nested_nmi_ask_for_repeat

nested_nmi:
    mov qword [rsp + AT_STATE + NMI_CPU_NESTED_RULE], NESTED_EXECUTING
nested_nmi_ask_for_repeat:
    ; Rewrite the first NMI's iret frame so that its final iretq lands on repeat_nmi, with RSP at
    ; the outermost frame, interrupts off and DF clear. Nothing else of the first NMI is touched:
    ; this NMI used only the hardware frame and the saved-rdx slot above it.
    lea rdx, [rsp + AT_OUTERMOST]
    mov [rsp + AT_IRET + IRET_FRAME_RSP], rdx
    mov qword [rsp + AT_IRET + IRET_FRAME_SS], KERNEL_DATA_SELECTOR
    mov qword [rsp + AT_IRET + IRET_FRAME_RFLAGS], RFLAGS_RESERVED_ONE
    mov qword [rsp + AT_IRET + IRET_FRAME_CS], KERNEL_CODE_SELECTOR
    mov qword [rsp + AT_IRET + IRET_FRAME_RIP], repeat_nmi
    jmp nested_nmi_return

nmi_in_repeat_window:
    mov qword [rsp + AT_STATE + NMI_CPU_NESTED_RULE], NESTED_IN_REPEAT_WINDOW
nested_nmi_return:                         ; count it, note where it landed, and leave
    inc qword [rsp + AT_STATE + NMI_CPU_NESTED]
    mov rdx, [rsp + AT_HARDWARE_RIP]
    mov [rsp + AT_STATE + NMI_CPU_NESTED_RIP], rdx
    mov rdx, [rsp + AT_HARDWARE_RSP]
    mov [rsp + AT_STATE + NMI_CPU_NESTED_RSP], rdx
    pop rdx
    iretq                               ; pops the hardware frame: back into the first NMI

; ---------------------------------------------------------------------------------------------
; An NMI from user mode (CVE-2015-5157). It cannot be nested (user mode was running), so the IST
; stack is free, but it must not stay there: its return to user mode may fault (a segment made
; not present, a non-canonical RIP), and that fault is delivered on the stack the iretq ran on.
; On the IST stack it would sit exactly where the next NMI writes, in a layout the checks above
; do not expect. So: copy the hardware frame to the task's kernel stack, and run there.
;
;   NMI IST stack                          task's kernel stack (cpu_local.kernel_stack: empty,
;   +-------------------+                  +-------------------+  user mode was running)
;   | hardware frame    |  -- copied -->   | iret frame        |  what the final iretq pops
;   |   ss rsp rflags   |                  | error code, 2     |  \ struct trap_frame
;   |   cs rip          |                  | rax ... r15       |  /
;   | saved rdx         |                  | C handler ...     |
;   +-------------------+                  +-------------------+
;
; NMIs stay blocked until the first iretq, which only the C handler can execute (a fault inside
; it): everything here up to the call runs undisturbed. After that, a nested NMI interrupts
; kernel code on this stack, takes the IST path above as a first NMI (the IST stack is free),
; and the C state machine in nmi_latch_handle (kernel/nmi.c) turns it into one more pass. The
; asm checks cannot see this NMI: it never set "NMI executing".
; ---------------------------------------------------------------------------------------------
global nmi_from_user
nmi_from_user:
    swapgs                              ; from user mode: the user's GS until now
    lfence                              ; not on a guess that came here from kernel mode
    push rdx
    mov rdx, rsp                        ; RDX -> saved rdx, then the hardware frame
    mov rsp, [gs:CPU_LOCAL_KERNEL_STACK]
    push qword [rdx + 8 + IRET_FRAME_SS]
    push qword [rdx + 8 + IRET_FRAME_RSP]
    push qword [rdx + 8 + IRET_FRAME_RFLAGS]
    push qword [rdx + 8 + IRET_FRAME_CS]
    push qword [rdx + 8 + IRET_FRAME_RIP]
    mov rdx, [rdx]
    push 0                              ; error code slot
    push VECTOR_NMI
    PUSH_TRAP_REGISTERS
    CALL_WITH_TRAP_FRAME nmi_latch_handle
    POP_TRAP_REGISTERS
    add rsp, 16
    swapgs
global nmi_user_iretq
nmi_user_iretq:
    iretq                               ; a fault here is taken on this stack, and kills the task

section .exception_table progbits alloc noexec nowrite align=8
    dq nmi_user_iretq, user_return_faulted
