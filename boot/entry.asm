; From GRUB to C: the 32-bit entry, the checks and the switch to long mode.
;
; GRUB jumps to _start in 32-bit protected mode with paging off, EAX = multiboot2 magic and
; EBX = physical address of the boot information. This code runs at its physical address (it is
; linked low, in .boot); the kernel proper is linked in the top 2 GiB (-mcmodel=kernel), so the
; last step is a jump to kernel_entry_high, which only works once paging maps that address.
; The page tables it switches on are data, below (boot_pml4).

MULTIBOOT2_BOOTLOADER_MAGIC equ 0x36d76289
PAGE_PRESENT    equ 1 << 0
PAGE_WRITABLE   equ 1 << 1
PAGE_HUGE       equ 1 << 7
CR0_PE          equ 1 << 0
CR0_NE          equ 1 << 5              ; x87 errors as exceptions, not the old external pin
CR0_WP          equ 1 << 16
CR0_PG          equ 1 << 31
CR4_PAE         equ 1 << 5
MSR_EFER        equ 0xc0000080
EFER_LME        equ 1 << 8
CPUID_EXT_LONG_MODE equ 1 << 29
COM1            equ 0x3f8
VGA_TEXT        equ 0xb8000

extern kernel_main, ap_long_mode

section .boot.text progbits alloc exec nowrite
bits 32
global _start
_start:
    cli
    cld
    mov esp, boot32_stack_top
    mov edi, eax                        ; keep magic and info pointer for kernel_main
    mov esi, ebx
    mov ecx, serial_setup               ; COM1, 115200 8N1, FIFO on: the writes in serial_setup
.serial_setup:
    movzx edx, byte [ecx]
    add edx, COM1
    mov al, [ecx + 1]
    out dx, al
    add ecx, 2
    cmp ecx, serial_setup_end
    jne .serial_setup

    ; The checks. EBP: the message fatal32 prints if the next one fails.
    mov ebp, message_not_multiboot2
    cmp edi, MULTIBOOT2_BOOTLOADER_MAGIC
    jne fatal32
    mov ebp, message_no_long_mode
    pushfd                              ; CPUID exists when EFLAGS.ID (bit 21) can be flipped
    pop eax
    mov ecx, eax
    xor eax, 1 << 21
    push eax
    popfd
    pushfd
    pop eax
    push ecx
    popfd
    xor eax, ecx
    jz fatal32
    mov eax, 0x80000000                 ; highest extended leaf
    cpuid
    cmp eax, 0x80000001
    jb fatal32
    mov eax, 0x80000001
    cpuid
    test edx, CPUID_EXT_LONG_MODE
    jz fatal32

    mov ebx, kernel_entry_high_at       ; CPU 0 goes on to kernel_main
    jmp enter_long_mode

; Every other CPU, from its trampoline (arch/x86_64/ap_trampoline.asm): protected mode on
; boot_gdt, but DS still holds real mode's segment, which lgdt below would read through.
global ap_protected_mode
ap_protected_mode:
    mov ax, BOOT_DATA
    mov ds, ax
    mov ebx, ap_long_mode_at            ; another CPU goes on to ap_entry
; Long mode, from 32-bit protected mode with paging off; EBX points at where to go then. No stack.
enter_long_mode:
    mov eax, boot_pml4
    mov cr3, eax
    mov eax, cr4
    or eax, CR4_PAE                     ; long mode requires PAE paging
    mov cr4, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    ; All of CR0, not bits ORed in: INIT (and some firmware) leaves CD and NW set, caches off,
    ; which the CPU would keep for good. Paging on: the CPU is now in compatibility mode.
    mov eax, CR0_PE | CR0_NE | CR0_WP | CR0_PG
    mov cr0, eax
    lgdt [boot_gdt_pointer]
    jmp BOOT_CODE64:long_mode_low       ; a 64-bit code segment makes it real 64-bit mode

; Print the NUL-terminated message at EBP on serial and on the VGA text screen, then stop.
; Only reached before long mode, so the message is all the user gets: it must say what is wrong.
fatal32:
    mov edi, VGA_TEXT
.next_char:
    mov al, [ebp]
    test al, al
    jz .halt
    mov ah, 0x4f                        ; white on red
    mov [edi], ax
    add edi, 2
    mov ah, al
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20                       ; transmitter holding register empty
    jz .wait
    mov dx, COM1
    mov al, ah
    out dx, al
    inc ebp
    jmp .next_char
.halt:
    cli
    hlt
    jmp .halt

bits 64
long_mode_low:
    mov ax, BOOT_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    jmp [ebx]                           ; to the top 2 GiB, where the kernel proper is linked

section .boot.data progbits alloc noexec write
align 8
kernel_entry_high_at: dq kernel_entry_high ; in the top 2 GiB: 64-bit addresses, which
ap_long_mode_at: dq ap_long_mode           ; the 32-bit code can only point at
serial_setup:                           ; register (from COM1), value
    db 1, 0                             ; no UART interrupts
    db 3, 0x80                          ; divisor latch on
    db 0, 1                             ; divisor 1 = 115200 baud
    db 1, 0
    db 3, 3                             ; 8 data bits, no parity, 1 stop bit
    db 2, 0xc7
    db 4, 0x0b
serial_setup_end:
message_not_multiboot2:
    db "nmilab: not started by a multiboot2 loader (boot it with GRUB: see README.md)", 13, 10, 0
message_no_long_mode:
    db "nmilab: this CPU has no long mode (64-bit); nmilab needs an x86_64 CPU", 13, 10, 0

BOOT_CODE64 equ boot_gdt.code64 - boot_gdt
BOOT_DATA equ boot_gdt.data - boot_gdt
align 16
global boot_gdt
boot_gdt:                               ; just enough to enter 64-bit mode; C loads the real GDT
    dq 0
.code64: dq 0x00209a0000000000          ; present, code, L (64-bit)
.data: dq 0x00cf92000000ffff            ; present, data, writable, 4 GiB (for 32-bit mode too)
.code32: dq 0x00cf9a000000ffff          ; 0x18: present, 32-bit code, 4 GiB (ap_trampoline.asm)
boot_gdt_pointer:
    dw boot_gdt_pointer - boot_gdt - 1
    dd boot_gdt

; The page tables, 2 MiB pages only, so three levels each:
;   PML4[0]   -> boot_pdpt_low[0..3] -> boot_pd_low       : virtual 0..4 GiB = physical 0..4 GiB
;   PML4[511] -> boot_pdpt_high[510] -> boot_pd_low[0..511] : 0xffffffff80000000.. = 0..1 GiB
; The identity map keeps this code running after paging is switched on, and gives C a simple
; view of the boot information, ACPI tables and the devices below 4 GiB. C splits 2 MiB pages
; later where it needs 4 KiB holes (guard pages, the null page); the higher half shares the
; identity map's first page directory, so a hole made in one is in both.
TABLE equ PAGE_PRESENT + PAGE_WRITABLE
align 4096
boot_pml4:
    dq boot_pdpt_low + TABLE
    times 510 dq 0
    dq boot_pdpt_high + TABLE
boot_pdpt_low:
    dq boot_pd_low + TABLE, boot_pd_low + 4096 + TABLE
    dq boot_pd_low + 2 * 4096 + TABLE, boot_pd_low + 3 * 4096 + TABLE
    times 508 dq 0
boot_pdpt_high:
    times 510 dq 0
    dq boot_pd_low + TABLE
    dq 0
boot_pd_low:
%assign megabytes 0
%rep 2048
    dq megabytes << 20 | PAGE_PRESENT | PAGE_WRITABLE | PAGE_HUGE
%assign megabytes megabytes + 2
%endrep

section .boot.bss nobits alloc noexec write
boot32_stack:   resb 1024
boot32_stack_top:

section .text
kernel_entry_high:
    mov rsp, boot_stack_top             ; the kernel stack, with a guard page below it
    xor ebp, ebp                        ; a zero frame pointer ends every backtrace
    mov edi, edi                        ; kernel_main(magic, info physical address)
    mov esi, esi
    ; A zero return address at the bottom of the stack: gdb's unwinder (and ours) stop there
    ; instead of reading whatever lies above the stack as more frames. kernel_main never
    ; returns; if it did, the jump to 0 would fault on the unmapped null page and panic.
    push 0
    jmp kernel_main

; The kernel stack for boot and for everything that is not on an IST stack. The page below it is
; unmapped at boot (arch/x86_64/stacks.c) so that running off its end faults at once.
section .bss
align 4096
global boot_stack_guard, boot_stack_top
boot_stack_guard:   resb 4096
                    resb 16384
boot_stack_top:
