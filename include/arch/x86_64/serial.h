/* COM1 at 115200 8N1: the console the tests read. */
#pragma once
#include <stddef.h>
#include <stdint.h>

void serial_init(void);
void serial_write(const char *text, size_t length);
int serial_read(void); /* a received byte, or -1 when none is waiting */
void serial_set_delay(uint64_t microseconds); /* per byte: console_delay= on the command line */
