/* COM1 at 115200 8N1: the console the tests read. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

bool serial_init(void); /* false when no UART answers at COM1 */
void serial_write(const char *text, size_t length);
