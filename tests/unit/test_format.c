#include <kernel/printk.h>
#include <stdint.h>
#include "unit.h"

static char out[128];
#define FORMATS_AS(expected, ...)                                                              \
    do {                                                                                       \
        int n = format(out, sizeof out, __VA_ARGS__);                                          \
        CHECK_STRING(out, expected);                                                           \
        CHECK(n == (int)strlen(expected));                                                     \
    } while (0)

static void integers(void)
{
    FORMATS_AS("0 -1 42 2147483647 -2147483648", "%d %d %i %d %d", 0, -1, 42, 2147483647, (int)-2147483648LL);
    FORMATS_AS("4294967295", "%u", 4294967295u);
    FORMATS_AS("-9223372036854775808", "%ld", (long)INT64_MIN);
    FORMATS_AS("18446744073709551615", "%lu", (unsigned long)UINT64_MAX);
    FORMATS_AS("123456789012", "%zu", (size_t)123456789012ULL);
}

static void hexadecimal(void)
{
    FORMATS_AS("ff FF 0", "%x %X %x", 255, 255, 0);
    FORMATS_AS("ffffffff80000000", "%lx", 0xffffffff80000000UL);
    FORMATS_AS("deadbeefcafe", "%llx", 0xdeadbeefcafeULL);
    FORMATS_AS("0xffffffff80001234", "%p", (void *)0xffffffff80001234UL);
    FORMATS_AS("0x0", "%p", (void *)0);
}

static void widths_and_padding(void)
{
    FORMATS_AS("   42|42   |00042", "%5d|%-5d|%05d", 42, 42, 42);
    FORMATS_AS("-0042", "%05d", -42);
    FORMATS_AS("0000000000000abc", "%016lx", 0xabcUL);
    FORMATS_AS("  hi|hi  |x", "%4s|%-4s|%c", "hi", "hi", 'x');
    FORMATS_AS("toolong", "%3s", "toolong");
}

/* The kernel's printk must survive format strings that the compiler would reject. */
static int unchecked_format(const char *fmt, ...)
{
    va_list arguments;
    va_start(arguments, fmt);
    int n = vformat(out, sizeof out, fmt, arguments);
    va_end(arguments);
    return n;
}

static void strings_and_percent(void)
{
    const char *nothing = NULL;
    unchecked_format("a %s 100%%", nothing);
    CHECK_STRING(out, "a (null) 100%");
    CHECK(unchecked_format("%q") == 2);
    CHECK_STRING(out, "%q");
    CHECK(unchecked_format("end %") == 5);
    CHECK_STRING(out, "end %");
}

static void truncation(void)
{
    char small[6];
    int n = format(small, sizeof small, "%s", "abcdefgh");
    CHECK_STRING(small, "abcde");
    CHECK(n == 8);
    char guard[4] = {'x', 'x', 'x', 'x'};
    CHECK(format(guard, 1, "hello") == 5);
    CHECK(guard[0] == '\0' && guard[1] == 'x');
    CHECK(format(guard, 0, "hello") == 5); /* size 0: nothing written at all */
    CHECK(guard[0] == '\0' && guard[1] == 'x');
}

const struct unit_test format_tests[] = {
    {"format: integers", integers},
    {"format: hexadecimal and pointers", hexadecimal},
    {"format: widths and padding", widths_and_padding},
    {"format: strings, %% and odd conversions", strings_and_percent},
    {"format: truncation to the buffer", truncation},
    {0},
};
