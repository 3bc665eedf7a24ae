/* Where printk's text goes: the serial port and one screen (a pixel framebuffer or VGA text). */
#pragma once
#include <stdint.h>
#include <kernel/multiboot.h>

void console_init_screen(const struct boot_framebuffer *framebuffer); /* after paging_init */
struct lock;
extern struct lock console_lock; /* held across several writes: one CPU's lines stay together */
const char *console_screen_description(void); /* e.g. "framebuffer 1024x768x32" */

/* A screen backend: draws a character in a cell (the console keeps the text and scrolls). */
#define SCREEN_COLUMNS_MAX 256
#define SCREEN_ROWS_MAX 128
struct screen {
    unsigned columns, rows;    /* at most the maxima above */
    unsigned scroll_step;      /* rows to scroll at once when the last one is full */
    void (*draw)(unsigned column, unsigned row, char c);
};
const struct screen *framebuffer_screen_init(const struct boot_framebuffer *framebuffer);
const struct screen *vga_text_screen_init(uint64_t address, unsigned columns, unsigned rows);
