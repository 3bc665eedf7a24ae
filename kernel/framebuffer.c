/* The pixel console: what a UEFI machine shows (there is no text mode under UEFI), characters
 * drawn from the 8x16 bitmap font (twice the size on a large screen: font.h says when and why). */
#include <arch/x86_64/paging.h>
#include <kernel/console.h>
#include <kernel/font.h>
#include <kernel/string.h>

#define GREY 0xc0u /* in each of red, green and blue: light grey on black, as on a PC text screen */

static struct boot_framebuffer fb;
static uint8_t *pixels;
static unsigned bytes_per_pixel;
static uint32_t foreground_pixel;
static unsigned scale; /* screen pixels per font pixel, each way */

static void framebuffer_draw(unsigned column, unsigned row, char c)
{
    const uint8_t *glyph = font_glyphs[c - FONT_FIRST];
    for (unsigned y = 0; y < FONT_HEIGHT * scale; y++) {
        uint8_t *pixel = pixels + (uint64_t)(row * FONT_HEIGHT * scale + y) * fb.pitch +
                         (uint64_t)column * FONT_WIDTH * scale * bytes_per_pixel;
        for (unsigned x = 0; x < FONT_WIDTH * scale; x++, pixel += bytes_per_pixel) {
            uint32_t colour = glyph[y / scale] & (0x80 >> (x / scale)) ? foreground_pixel : 0;
            if (bytes_per_pixel == 4) {
                *(volatile uint32_t *)pixel = colour;
            } else {
                pixel[0] = (uint8_t)colour;
                pixel[1] = (uint8_t)(colour >> 8);
                pixel[2] = (uint8_t)(colour >> 16);
            }
        }
    }
}

static struct screen framebuffer_screen = {.draw = framebuffer_draw};

const struct screen *framebuffer_screen_init(const struct boot_framebuffer *framebuffer)
{
    fb = *framebuffer;
    bytes_per_pixel = fb.bits_per_pixel / 8;
    pixels = paging_map_device(fb.address, (uint64_t)fb.pitch * fb.height, false);
    foreground_pixel = GREY << fb.red_shift | GREY << fb.green_shift | GREY << fb.blue_shift;
    scale = fb.width >= FONT_DOUBLE_FROM_WIDTH && fb.height >= FONT_DOUBLE_FROM_HEIGHT ? 2 : 1;
    framebuffer_screen.columns = fb.width / (FONT_WIDTH * scale);
    framebuffer_screen.rows = fb.height / (FONT_HEIGHT * scale);
    if (framebuffer_screen.columns > SCREEN_COLUMNS_MAX)
        framebuffer_screen.columns = SCREEN_COLUMNS_MAX;
    if (framebuffer_screen.rows > SCREEN_ROWS_MAX)
        framebuffer_screen.rows = SCREEN_ROWS_MAX;
    /* Redrawing a screenful of pixels takes long enough to watch: a quarter of it at a time. */
    framebuffer_screen.scroll_step = framebuffer_screen.rows / 4 ? framebuffer_screen.rows / 4 : 1;
    memset(pixels, 0, (uint64_t)fb.pitch * fb.height);
    return &framebuffer_screen;
}
