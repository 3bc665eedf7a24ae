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

static void put_padded(struct output *out, const char *text, size_t text_length, int width,
                       bool left, char pad)
{
    int padding = width > (int)text_length ? width - (int)text_length : 0;
    if (!left && pad == '0' && text_length && (*text == '-')) { /* zero padding goes after a sign */
        put(out, *text++);
        text_length--;
    }
    if (!left)
        while (padding-- > 0)
            put(out, pad);
    while (text_length--)
        put(out, *text++);
    if (left)
        while (padding-- > 0)
            put(out, ' ');
}

static size_t number_to_text(char *digits, uint64_t value, unsigned base, bool upper)
{
    const char *alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char reversed[24];
    size_t n = 0;
    do {
        reversed[n++] = alphabet[value % base];
        value /= base;
    } while (value);
    for (size_t i = 0; i < n; i++)
        digits[i] = reversed[n - 1 - i];
    return n;
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
        bool left = false;
        char pad = ' ';
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                pad = '0';
            else
                break;
        }
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        int longs = 0;
        while (*fmt == 'l' || *fmt == 'z') {
            longs += *fmt == 'z' ? 2 : 1;
            fmt++;
        }
        char text[32];
        size_t n = 0;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t value = longs ? va_arg(arguments, int64_t) : va_arg(arguments, int);
            uint64_t magnitude = value < 0 ? -(uint64_t)value : (uint64_t)value;
            if (value < 0)
                text[n++] = '-';
            n += number_to_text(text + n, magnitude, 10, false);
            put_padded(&out, text, n, width, left, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t value = longs ? va_arg(arguments, uint64_t) : va_arg(arguments, unsigned);
            n = number_to_text(text, value, *fmt == 'u' ? 10 : 16, *fmt == 'X');
            put_padded(&out, text, n, width, left, pad);
            break;
        }
        case 'p': {
            uint64_t value = (uint64_t)(uintptr_t)va_arg(arguments, void *);
            text[0] = '0';
            text[1] = 'x';
            n = 2 + number_to_text(text + 2, value, 16, false);
            put_padded(&out, text, n, width, left, ' ');
            break;
        }
        case 's': {
            const char *s = va_arg(arguments, const char *);
            if (!s)
                s = "(null)";
            size_t length = 0;
            while (s[length])
                length++;
            put_padded(&out, s, length, width, left, ' ');
            break;
        }
        case 'c':
            text[0] = (char)va_arg(arguments, int);
            put_padded(&out, text, 1, width, left, ' ');
            break;
        case '%':
            put(&out, '%');
            break;
        case '\0': /* a lone '%' at the end */
            put(&out, '%');
            fmt--;
            break;
        default: /* unknown conversion: show it as written */
            put(&out, '%');
            put(&out, *fmt);
            break;
        }
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
