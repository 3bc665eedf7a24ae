; Where the other CPUs start (docs/nmi.md, "Several CPUs"): in real mode, in the page below 1 MiB
; that smp.c copies these bytes to; then CPU 0's way into long mode (boot/entry.asm), back here.

%include "asm_offsets.inc"

; Where the copy runs is known only when it runs (CS is its page), so its own bytes are addressed
; relative to ap_trampoline_start; what it reaches outside itself has a fixed address.
%define OFFSET(label) ((label) - ap_trampoline_start)
BOOT_CODE32 equ 0x18                    ; boot_gdt's fourth descriptor (boot/entry.asm)
CR0_PE equ 1 << 0

extern boot_gdt, ap_protected_mode, ap_entry, ap_start_stack

section .rodata                         ; only copied, never run in place
global ap_trampoline_start, ap_trampoline_end
bits 16
ap_trampoline_start:
    cli
    cld
    mov ax, cs                          ; the copy's page: lgdt reads its operand through DS
    mov ds, ax
    o32 lgdt [OFFSET(trampoline_gdt_pointer)]
    mov eax, cr0
    or eax, CR0_PE
    mov cr0, eax
    jmp dword BOOT_CODE32:ap_protected_mode

trampoline_gdt_pointer:
    dw 4 * 8 - 1                        ; boot_gdt's four descriptors
    dd boot_gdt
ap_trampoline_end:

section .text
bits 64
global ap_long_mode
ap_long_mode:                           ; paging on, the boot page table (identity-maps the copy)
    mov rsp, [rel ap_start_stack]       ; its idle task's stack (smp.c), filled in for this CPU
    xor ebp, ebp                        ; a zero frame pointer and return address
    push 0                              ; end backtraces (and align RSP as a call would)
    jmp ap_entry                        ; never returns
