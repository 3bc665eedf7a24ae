/* printk's console: every byte goes to serial and to the screen. It keeps the screen's text, the
 * cursor, wraps and scrolls, redrawing only the cells that change, never reading the screen back
 * (why: README.md, on the framebuffer); the backends only draw a character in a cell. */
#include <arch/x86_64/serial.h>
#include <kernel/console.h>
#include <kernel/lock.h>
#include <kernel/printk.h>
#include <kernel/string.h>

struct lock console_lock;
static const struct screen *screen;
static unsigned cursor_column, cursor_row;
static char text[SCREEN_ROWS_MAX][SCREEN_COLUMNS_MAX]; /* what the screen shows */
static char screen_description[64] = "none";

void console_init_screen(const struct boot_framebuffer *framebuffer)
{
    memset(text, ' ', sizeof text); /* both backends start with a blank screen */
    if (framebuffer->kind == FRAMEBUFFER_RGB) {
        screen = framebuffer_screen_init(framebuffer);
        format(screen_description, sizeof screen_description,
               "framebuffer %ux%ux%u, %ux%u characters", framebuffer->width, framebuffer->height,
               framebuffer->bits_per_pixel, screen->columns, screen->rows);
        return;
    }
    screen = vga_text_screen_init(framebuffer->address, framebuffer->width, framebuffer->height);
    format(screen_description, sizeof screen_description,
           "vga text %ux%u", screen->columns, screen->rows);
}

const char *console_screen_description(void) { return screen_description; }

static void screen_draw(unsigned column, unsigned row, char c)
{
    text[row][column] = c;
    screen->draw(column, row, c);
}

static void screen_newline(void)
{
    cursor_column = 0;
    if (cursor_row + 1 < screen->rows) {
        cursor_row++;
        return;
    }
    unsigned step = screen->scroll_step; /* the last row is full: scroll */
    for (unsigned row = 0; row < screen->rows; row++)
        for (unsigned column = 0; column < screen->columns; column++) {
            char c = row + step < screen->rows ? text[row + step][column] : ' ';
            if (c != text[row][column])
                screen_draw(column, row, c);
        }
    cursor_row = screen->rows - step;
}

static void screen_put(char c)
{
    if (c == '\n') {
        screen_newline();
    } else if (c == '\r') {
        cursor_column = 0;
    } else if (c == '\b') {
        if (cursor_column)
            screen_draw(--cursor_column, cursor_row, ' ');
    } else {
        if (cursor_column == screen->columns)
            screen_newline();
        screen_draw(cursor_column++, cursor_row, c >= ' ' && c <= '~' ? c : '?');
    }
}

/* printk's text is formatted on the stack, then written out whole, under the console lock. */
void vprintk(const char *fmt, va_list arguments)
{
    char buffer[512];
    int length = vformat(buffer, sizeof buffer, fmt, arguments);
    size_t written = length < (int)sizeof buffer ? (size_t)length : sizeof buffer - 1;
    uint64_t taken = lock_take(&console_lock);
    serial_write(buffer, written);
    if (screen)
        for (size_t i = 0; i < written; i++)
            screen_put(buffer[i]);
    lock_give(&console_lock, taken);
}

void printk(const char *fmt, ...)
{
    va_list arguments;
    va_start(arguments, fmt);
    vprintk(fmt, arguments);
    va_end(arguments);
}
