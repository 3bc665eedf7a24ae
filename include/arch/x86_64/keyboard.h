/* Input for the shell: the PS/2 keyboard (USB keyboards reach it through the firmware's legacy
 * emulation) and the serial port, both polled. */
#pragma once
#include <stdbool.h>

int keyboard_read(void); /* an ASCII character, or -1 when no key is waiting */
/* False when no PS/2 controller answers (many UEFI PCs once the firmware has let go of USB). */
bool keyboard_present(void);
