; The floor for make bench's boot-to-ready figure: the least a multiboot2 kernel can do. GRUB
; loads it like nmilab (same ISO layout, menu and firmware); it prints nmilab's "ready" line on
; COM1 and halts. Whatever nmilab takes beyond this is nmilab's own.
bits 32
section .text align=8                   ; the header first: GRUB looks in the first 32 KB
header_start:
    dd 0xe85250d6                       ; multiboot2 magic
    dd 0                                ; i386
    dd header_end - header_start
    dd -(0xe85250d6 + 0 + (header_end - header_start))
    dw 0, 0                             ; end tag
    dd 8
header_end:

global floor_start
floor_start:
    mov esi, ready
.next:
    lodsb
    test al, al
    jz .halt
    mov dx, 0x3fd                       ; line status: wait until the transmitter is empty
.wait:
    mov ah, al
    in al, dx
    test al, 0x20
    mov al, ah
    jz .wait
    mov dx, 0x3f8
    out dx, al
    jmp .next
.halt:
    cli
    hlt
    jmp .halt

ready: db "nmilab: ready", 13, 10, 0
