/* Formatted output. format.c is pure C (also built for the host unit tests); console.c sends the
 * result to every console. Formats: %d %i %u %x %X %p %s %c %%, the l/ll/z size prefixes,
 * a width, and before it one flag: '0' padding (for numbers) or '-' for left alignment. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

int vformat(char *buffer, size_t size, const char *format, va_list arguments);
int format(char *buffer, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void printk(const char *format, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *format, va_list arguments);
