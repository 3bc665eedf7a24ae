/* Freestanding string functions. GCC and clang may also call memcpy/memset on their own for
 * struct copies and initialisers, so these names must exist. (Neither calls memmove here, and no
 * code does: a link error would say so if one ever did.) */
#include <kernel/string.h>

void *memcpy(void *destination, const void *source, size_t n)
{
    unsigned char *d = destination;
    const unsigned char *s = source;
    while (n--)
        *d++ = *s++;
    return destination;
}

void *memset(void *destination, int value, size_t n)
{
    unsigned char *d = destination;
    while (n--)
        *d++ = (unsigned char)value;
    return destination;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    for (; *a && *a == *b; a++, b++)
        ;
    return (unsigned char)*a - (unsigned char)*b;
}
