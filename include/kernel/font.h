/* An 8x16 bitmap font for the printable ASCII characters ' ' to '~'; one byte per row, the
 * leftmost pixel in the top bit. */
#pragma once
#include <stdint.h>

#define FONT_WIDTH 8
#define FONT_HEIGHT 16
#define FONT_FIRST ' '
#define FONT_LAST '~'
/* On a screen at least this large each font pixel is drawn as a 2x2 block: 8x16 pixels would be
 * too small to read. (tests/nmilab_test/screen.py reads these lines to read the screen back.) */
#define FONT_DOUBLE_FROM_WIDTH 1600
#define FONT_DOUBLE_FROM_HEIGHT 900
extern const uint8_t font_glyphs[FONT_LAST - FONT_FIRST + 1][FONT_HEIGHT];
