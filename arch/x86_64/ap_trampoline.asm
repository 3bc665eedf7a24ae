; Where the other CPUs start. A start-up IPI (SIPI) wakes a CPU in 16-bit real mode at the page
; whose number it carries, so smp.c copies these bytes to a page below 1 MiB that the memory map
; says is usable, and fills in struct ap_start at their end. The trampoline only reaches 32-bit
; protected mode; from there the CPU takes CPU 0's own way into long mode (enter_long_mode in
; boot/entry.asm, which a 32-bit address reaches), and comes back to ap_long_mode below, in the
; kernel proper.

%include "asm_offsets.inc"

; Where the copy runs is known only when it runs (CS is its page), so the code inside it is
; addressed relative to ap_trampoline_start, and the two absolute addresses the CPU needs (the
; GDT's, the far jump's) are worked out there, from CS.
%define OFFSET(label) ((label) - ap_trampoline_start)
CODE32 equ 0x08
DATA32 equ 0x10
CR0_PE equ 1 << 0

extern enter_long_mode, ap_entry, ap_start_copy

section .rodata                         ; only copied, never run in place
global ap_trampoline_start, ap_trampoline_end, ap_start_parameters
bits 16
ap_trampoline_start:
    cli
    cld
    mov ax, cs                          ; the copy's page: data is addressed from it too
    mov ds, ax
    movzx ebx, ax
    shl ebx, 4                          ; EBX: the copy's linear address
    lea eax, [ebx + OFFSET(trampoline_gdt)]
    mov [OFFSET(trampoline_gdt_pointer) + 2], eax
    lea eax, [ebx + OFFSET(protected_mode)]
    mov [OFFSET(protected_mode_pointer)], eax
    lgdt [OFFSET(trampoline_gdt_pointer)]
    mov eax, cr0
    or eax, CR0_PE
    mov cr0, eax
    jmp dword far [OFFSET(protected_mode_pointer)]

bits 32
protected_mode:
    mov ax, DATA32
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov ebx, 1                          ; not CPU 0: enter_long_mode comes back to ap_long_mode
    mov eax, enter_long_mode
    jmp eax

align 8
trampoline_gdt:                         ; flat 4 GiB, until enter_long_mode loads the boot GDT
    dq 0
    dq 0x00cf9a000000ffff               ; 0x08 32-bit code
    dq 0x00cf92000000ffff               ; 0x10 32-bit data
trampoline_gdt_pointer:
    dw 3 * 8 - 1
    dd 0                                ; the GDT's linear address, set in the copy
protected_mode_pointer:
    dd 0                                ; protected_mode's linear address, set in the copy
    dw CODE32

align 8
ap_start_parameters:                    ; struct ap_start (smp.c), filled in for each CPU
    times AP_START_SIZE db 0
ap_trampoline_end:

section .text
bits 64
global ap_long_mode
ap_long_mode:                           ; paging on, the boot page table (identity-maps the copy)
    mov rax, [rel ap_start_copy]        ; the struct ap_start in the copy (smp.c)
    mov rsp, [rax + AP_START_STACK]
    mov rdi, [rax + AP_START_CPU]
    xor ebp, ebp                        ; a zero frame pointer and return address
    push 0                              ; end backtraces (and align RSP as a call would)
    jmp ap_entry                        ; never returns
