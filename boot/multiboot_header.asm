; The multiboot2 header: GRUB finds it in the first 32 KiB of the file and reads what we want.
; Every tag is 8-byte aligned and marked optional (flags = 1), so a loader that cannot give us
; one thing (a framebuffer under a text-only BIOS, the new ACPI RSDP on an old machine) still
; boots us instead of refusing.

MULTIBOOT2_MAGIC        equ 0xe85250d6
MULTIBOOT2_ARCH_I386    equ 0           ; 32-bit protected mode entry
TAG_OPTIONAL            equ 1

TAG_END                 equ 0
TAG_INFORMATION_REQUEST equ 1
TAG_CONSOLE_FLAGS       equ 4
TAG_FRAMEBUFFER         equ 5

CONSOLE_EGA_TEXT_SUPPORTED equ 2

section .multiboot2
align 8
header_start:
    dd MULTIBOOT2_MAGIC
    dd MULTIBOOT2_ARCH_I386
    dd header_end - header_start
    dd -(MULTIBOOT2_MAGIC + MULTIBOOT2_ARCH_I386 + (header_end - header_start))

align 8
information_request:
    dw TAG_INFORMATION_REQUEST, TAG_OPTIONAL
    dd information_request_end - information_request
    dd 1, 6, 8, 14, 15                  ; command line, memory map, framebuffer, RSDPs (multiboot.c)
information_request_end:

align 8
console_flags:                          ; we can draw on an EGA text screen too (BIOS)
    dw TAG_CONSOLE_FLAGS, TAG_OPTIONAL
    dd 12
    dd CONSOLE_EGA_TEXT_SUPPORTED

align 8
framebuffer_request:                    ; any size, 32 bits per pixel preferred
    dw TAG_FRAMEBUFFER, TAG_OPTIONAL
    dd 20
    dd 0, 0, 32

align 8
    dw TAG_END, 0
    dd 8
header_end:
