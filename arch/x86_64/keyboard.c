/* The PS/2 keyboard through the 8042 controller, polled: its IRQ 1 would come through the 8259 PIC,
 * whose output the watchdog may have turned into NMIs. The controller translates to scancode set
 * 1 by default: one byte per key press, the same with bit 7 set on release. */
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/keyboard.h>

#define KEYBOARD_DATA 0x60
#define KEYBOARD_STATUS 0x64
#define STATUS_OUTPUT_FULL 0x01
#define STATUS_FROM_MOUSE 0x20
#define LEFT_SHIFT 0x2a
#define RIGHT_SHIFT 0x36
#define RELEASED 0x80

/* Scancode set 1, keys 0x00-0x39: unshifted and shifted. 0 means no character. */
static const char plain[] = "\0\0331234567890-=\b\tqwertyuiop[]\n"
                            "\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 ";
static const char shifted[] = "\0\033!@#$%^&*()_+\b\tQWERTYUIOP{}\n"
                              "\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 ";
static bool shift;

bool keyboard_present(void) { return inb(KEYBOARD_STATUS) != 0xff; /* nothing decodes the port */ }

int keyboard_read(void)
{
    uint8_t status = inb(KEYBOARD_STATUS);
    if (status == 0xff || !(status & STATUS_OUTPUT_FULL))
        return -1; /* no controller, or nothing waiting */
    uint8_t code = inb(KEYBOARD_DATA);
    if (status & STATUS_FROM_MOUSE)
        return -1;
    if ((code & ~RELEASED) == LEFT_SHIFT || (code & ~RELEASED) == RIGHT_SHIFT) {
        shift = !(code & RELEASED);
        return -1;
    }
    if (code & RELEASED || code >= sizeof plain - 1)
        return -1;
    char c = (shift ? shifted : plain)[code];
    return c ? c : -1;
}
