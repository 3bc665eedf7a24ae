/* Where printk's text goes: the serial port and one screen (a pixel framebuffer or VGA text). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <kernel/multiboot.h>

bool console_init_serial(void);
void console_init_screen(const struct boot_framebuffer *framebuffer); /* after paging_init */
void console_write(const char *text, size_t length);
const char *console_screen_description(void); /* e.g. "framebuffer 1024x768x32" */

/* A screen backend: draws characters, scrolls. */
struct screen {
    const char *name;
    unsigned columns, rows;
    void (*draw)(unsigned column, unsigned row, char c);
    void (*scroll)(void); /* move everything up one row and clear the last */
};
const struct screen *framebuffer_screen_init(const struct boot_framebuffer *framebuffer);
const struct screen *vga_text_screen_init(uint64_t address, unsigned columns, unsigned rows);
