/* The PC text screen: a grid of (character, colour) 16-bit cells, what a BIOS machine shows. */
#include <arch/x86_64/paging.h>
#include <kernel/console.h>

#define GREY_ON_BLACK 0x07

static volatile uint16_t *cells;
static struct screen vga_text_screen;

static void vga_text_draw(unsigned column, unsigned row, char c)
{
    cells[row * vga_text_screen.columns + column] = (uint16_t)(GREY_ON_BLACK << 8 | (uint8_t)c);
}

const struct screen *vga_text_screen_init(uint64_t address, unsigned columns, unsigned rows)
{
    cells = paging_map_device(address, (uint64_t)columns * rows * 2, false);
    /* Text mode redraws in a blink: it scrolls a row at a time. */
    vga_text_screen = (struct screen){.columns = columns, .rows = rows, .scroll_step = 1,
                                      .draw = vga_text_draw};
    for (unsigned i = 0; i < columns * rows; i++)
        cells[i] = GREY_ON_BLACK << 8 | ' ';
    return &vga_text_screen;
}
