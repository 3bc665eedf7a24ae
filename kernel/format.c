/* vformat: a small snprintf. It never writes past size bytes, always NUL-terminates when size is
 * not zero, and returns the length the full output would have had (like C's snprintf). */
#include <kernel/printk.h>
#include <stdbool.h>
#include <stdint.h>

struct output {
    char *buffer;
    size_t size;
    size_t length; /* characters produced so far, stored or not */
};

static void put(struct output *out, char c)
{
    if (out->length + 1 < out->size)
        out->buffer[out->length] = c;
    out->length++;
}

int vformat(char *buffer, size_t size, const char *fmt, va_list arguments)
{
    struct output out = {buffer, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&out, *fmt);
            continue;
        }
        fmt++;
        bool left = *fmt == '-'; /* one flag: '-' (left-aligned) or '0' (zero padding) */
        if (left)
            fmt++;
        char pad = *fmt == '0' ? '0' : ' ';
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        bool longs = false; /* l, ll or z: 64 bits */
        for (; *fmt == 'l' || *fmt == 'z'; fmt++)
            longs = true;
        char digits[32];
        const char *text = digits; /* what the conversion shows, n characters */
        size_t n = 0;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t value = longs ? va_arg(arguments, int64_t) : va_arg(arguments, int);
            uint64_t magnitude = value < 0 ? -(uint64_t)value : (uint64_t)value;
            n = (size_t)format(digits, sizeof digits, value < 0 ? "-%lu" : "%lu", magnitude);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t value = longs ? va_arg(arguments, uint64_t) : va_arg(arguments, unsigned);
            unsigned base = *fmt == 'u' ? 10 : 16;
            const char *alphabet = *fmt == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            char *first = digits + sizeof digits; /* the digits fill the end, the last one first */
            do
                *--first = alphabet[value % base];
            while (value /= base);
            text = first;
            n = (size_t)(digits + sizeof digits - first);
            break;
        }
        case 'p':
            n = (size_t)format(digits, sizeof digits, "0x%lx", (uint64_t)va_arg(arguments, void *));
            break;
        case 's':
            text = va_arg(arguments, const char *);
            if (!text)
                text = "(null)";
            while (text[n])
                n++;
            break;
        case 'c':
            digits[n++] = (char)va_arg(arguments, int);
            break;
        default: /* %% is one %; an unknown conversion is shown as written */
            put(&out, '%');
            if (!*fmt)
                fmt--; /* a lone '%' at the end */
            else if (*fmt != '%')
                put(&out, *fmt);
            continue;
        }
        int padding = width > (int)n ? width - (int)n : 0;
        if (!left && pad == '0' && n && *text == '-') { /* zero padding goes after a sign */
            put(&out, *text++);
            n--;
        }
        for (; !left && padding > 0; padding--)
            put(&out, pad);
        while (n--)
            put(&out, *text++);
        for (; left && padding > 0; padding--)
            put(&out, ' ');
    }
    if (size)
        buffer[out.length < size ? out.length : size - 1] = '\0';
    return (int)out.length;
}

int format(char *buffer, size_t size, const char *fmt, ...)
{
    va_list arguments;
    va_start(arguments, fmt);
    int n = vformat(buffer, size, fmt, arguments);
    va_end(arguments);
    return n;
}
