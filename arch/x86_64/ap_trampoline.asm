; Where the other CPUs start. A start-up IPI (SIPI) wakes a CPU in 16-bit real mode at the page
; whose number it carries, so smp.c copies these bytes to AP_TRAMPOLINE_ADDRESS (below 1 MiB)
; and fills in struct ap_start at its end. From there: protected mode, then long mode with the
; kernel's page table (below 4 GiB, where a 32-bit CR3 reaches it), then ap_entry in C on the
; stack of the CPU's first task. The SDM's way (vol. 3, 10.8.5 and 11.4.4): paging is turned on
; from protected mode, with PAE and EFER.LME set before.

%include "asm_offsets.inc"

; Addresses where the copy runs: the assembler only knows them relative to ap_trampoline_start.
%define AT(label) (AP_TRAMPOLINE_ADDRESS + (label) - ap_trampoline_start)
CODE64 equ 0x08
DATA   equ 0x10
CODE32 equ 0x18
CR0_PE equ 1 << 0
CR0_WP equ 1 << 16
CR0_PG equ 1 << 31
CR4_PAE equ 1 << 5
MSR_EFER equ 0xc0000080

section .rodata                         ; only copied, never run in place
global ap_trampoline_start, ap_trampoline_end, ap_start_parameters
bits 16
ap_trampoline_start:
    cli
    cld
    xor ax, ax                          ; CS is the trampoline's page; data is addressed from 0
    mov ds, ax
    lgdt [AT(trampoline_gdt_pointer)]
    mov eax, cr0
    or eax, CR0_PE
    mov cr0, eax
    jmp dword CODE32:AT(protected_mode)

bits 32
protected_mode:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov eax, [AT(ap_start_parameters + AP_START_CR3)]
    mov cr3, eax
    mov ecx, MSR_EFER                   ; LME (and NXE, SCE) as CPU 0 has them
    mov eax, [AT(ap_start_parameters + AP_START_EFER)]
    xor edx, edx
    wrmsr
    mov eax, cr0
    or eax, CR0_PG | CR0_WP             ; paging on: compatibility mode
    mov cr0, eax
    jmp CODE64:AT(long_mode)

bits 64
long_mode:
    mov rsp, [AT(ap_start_parameters + AP_START_STACK)]
    mov rdi, [AT(ap_start_parameters + AP_START_CPU)]
    xor ebp, ebp                        ; a zero frame pointer and return address
    push 0                              ; end backtraces (and align RSP as a call would)
    jmp [AT(ap_start_parameters + AP_START_ENTRY)] ; ap_entry never returns

align 8
trampoline_gdt:                         ; until ap_entry loads the kernel's GDT
    dq 0
    dq 0x00209a0000000000               ; 0x08 64-bit code
    dq 0x00cf92000000ffff               ; 0x10 flat data, 4 GiB (a 32-bit data segment needs its limit)
    dq 0x00cf9a000000ffff               ; 0x18 32-bit code, 4 GiB
trampoline_gdt_pointer:
    dw 4 * 8 - 1
    dd AT(trampoline_gdt)

align 8
ap_start_parameters:                    ; struct ap_start (smp.c), filled in for each CPU
    times AP_START_SIZE db 0
ap_trampoline_end:
