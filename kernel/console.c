/* The console: every byte goes to serial and to the screen. The screen keeps a cursor and wraps
 * and scrolls; the backends only draw a character at a cell and scroll. */
#include <arch/x86_64/serial.h>
#include <kernel/console.h>
#include <kernel/printk.h>

static const struct screen *screen;
static unsigned cursor_column, cursor_row;
static char screen_description[64] = "none";

bool console_init_serial(void) { return serial_init(); }

void console_init_screen(const struct boot_framebuffer *framebuffer)
{
    if (framebuffer->kind == FRAMEBUFFER_RGB)
        screen = framebuffer_screen_init(framebuffer);
    else if (framebuffer->kind == FRAMEBUFFER_EGA_TEXT)
        screen = vga_text_screen_init(framebuffer->address, framebuffer->width, framebuffer->height);
    else
        screen = vga_text_screen_init(0xb8000, 80, 25); /* no tag: assume the PC's text mode */
    if (framebuffer->kind == FRAMEBUFFER_RGB)
        format(screen_description, sizeof screen_description, "framebuffer %ux%ux%u, %ux%u characters",
               framebuffer->width, framebuffer->height, framebuffer->bits_per_pixel, screen->columns, screen->rows);
    else
        format(screen_description, sizeof screen_description, "vga text %ux%u", screen->columns, screen->rows);
}

const char *console_screen_description(void) { return screen_description; }

static void screen_newline(void)
{
    cursor_column = 0;
    if (cursor_row + 1 < screen->rows)
        cursor_row++;
    else
        screen->scroll();
}

static void screen_put(char c)
{
    if (c == '\n') {
        screen_newline();
    } else if (c == '\r') {
        cursor_column = 0;
    } else if (c == '\b') {
        if (cursor_column)
            screen->draw(--cursor_column, cursor_row, ' ');
    } else {
        if (cursor_column == screen->columns)
            screen_newline();
        screen->draw(cursor_column++, cursor_row, c >= ' ' && c <= '~' ? c : '?');
    }
}

void console_write(const char *text, size_t length)
{
    serial_write(text, length);
    if (screen)
        for (size_t i = 0; i < length; i++)
            screen_put(text[i]);
}
