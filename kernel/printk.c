/* printk: format into a buffer on the stack, then write it out whole. */
#include <kernel/console.h>
#include <kernel/printk.h>

void vprintk(const char *fmt, va_list arguments)
{
    char buffer[512];
    int length = vformat(buffer, sizeof buffer, fmt, arguments);
    console_write(buffer, length < (int)sizeof buffer ? (size_t)length : sizeof buffer - 1);
}

void printk(const char *fmt, ...)
{
    va_list arguments;
    va_start(arguments, fmt);
    vprintk(fmt, arguments);
    va_end(arguments);
}
