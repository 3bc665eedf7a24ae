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
; Interrupt gates clear IF on entry, so nothing but an NMI or another exception can come in.

%include "asm_offsets.inc"
%include "arch/x86_64/trap_frame.inc"

section .text.entry progbits alloc exec nowrite align=16 ; no kprobes here; backtraces (linker.ld)
bits 64

%assign vector 0
%rep 256
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
    PUSH_TRAP_REGISTERS
    CALL_WITH_TRAP_FRAME trap_dispatch
    POP_TRAP_REGISTERS
    add rsp, 16                         ; vector and error code
    iretq                               ; note: this also ends NMI blocking, see docs/nmi.md

section .rodata
global trap_entry_table
trap_entry_table:
%assign vector 0
%rep 256
    dq trap_stub_ %+ vector
%assign vector vector + 1
%endrep
