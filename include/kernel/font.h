/* An 8x16 bitmap font for the printable ASCII characters ' ' to '~'; one byte per row, the
 * leftmost pixel in the top bit. */
#pragma once
#include <stdint.h>

#define FONT_WIDTH 8
#define FONT_HEIGHT 16
#define FONT_FIRST ' '
#define FONT_LAST '~'
extern const uint8_t font_glyphs[FONT_LAST - FONT_FIRST + 1][FONT_HEIGHT];
