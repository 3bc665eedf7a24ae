#include <kernel/cmdline.h>
#include <kernel/printk.h>
#include <stdarg.h>
#include "unit.h"

/* What cmdline_parse printed, a line each (the kernel's printk writes to the console). */
static char reports[8][160];
static int report_count;
void printk(const char *fmt, ...)
{
    va_list arguments;
    va_start(arguments, fmt);
    if (report_count < 8)
        vsnprintf(reports[report_count], sizeof reports[0], fmt, arguments);
    report_count++;
    va_end(arguments);
}

/* The number of problems cmdline_parse reported. */
static int parse(struct cmdline *cl, const char *line)
{
    report_count = 0;
    cmdline_parse(cl, line);
    return report_count;
}

static void simple_options(void)
{
    struct cmdline cl;
    CHECK(parse(&cl, "test=boot") == 0);
    CHECK(cl.count == 1);
    CHECK_STRING(cmdline_get(&cl, "test"), "boot");
    CHECK(cmdline_get(&cl, "nothing") == NULL);
    CHECK(parse(&cl, "") == 0 && cl.count == 0);
    CHECK(parse(&cl, NULL) == 0 && cl.count == 0);
    CHECK(parse(&cl, "   \t  ") == 0 && cl.count == 0);
}

static void spaces_and_last_wins(void)
{
    struct cmdline cl;
    CHECK(parse(&cl, "  test=a \t test=b  ") == 0);
    CHECK_STRING(cmdline_get(&cl, "test"), "b");
}

static void unknown_and_malformed(void)
{
    struct cmdline cl;
    CHECK(parse(&cl, "bogus=1 test=boot") == 1);
    CHECK_STRING(reports[0], "cmdline: 'bogus' is not a known option (ignored)\n");
    CHECK_STRING(cmdline_get(&cl, "test"), "boot");
    CHECK(parse(&cl, "test") == 1 && cl.count == 0);
    CHECK(strstr(reports[0], "needs a value") != NULL);
    CHECK(parse(&cl, "test=") == 1 && cl.count == 0);
    CHECK(strstr(reports[0], "empty value") != NULL);
    CHECK(parse(&cl, "=x") == 1);
}

static void flags(void)
{
    struct cmdline cl;
    CHECK(parse(&cl, "nosmp test=boot") == 0 && cl.count == 2);
    CHECK_STRING(cmdline_get(&cl, "nosmp"), "");
    CHECK(parse(&cl, "nosmp=1") == 1 && cl.count == 0);
    CHECK_STRING(reports[0], "cmdline: option 'nosmp' takes no value\n");
    CHECK(parse(&cl, "nosmp=") == 1 && cl.count == 0);
}

static void too_long_and_too_many(void)
{
    struct cmdline cl;
    char line[1024];
    memset(line, 'k', 200);
    strcpy(line + 200, "=1");
    CHECK(parse(&cl, line) == 1 && cl.count == 0); /* a key longer than any known one */
    strcpy(line, "test=");
    memset(line + 5, 'v', 100);
    line[105] = '\0';
    CHECK(parse(&cl, line) == 1 && cl.count == 0);
    CHECK(strstr(reports[0], "too long") != NULL);
    line[0] = '\0';
    for (int i = 0; i < CMDLINE_MAX_OPTIONS + 2; i++)
        strcat(line, "test=x ");
    CHECK(parse(&cl, line) == 2 && cl.count == CMDLINE_MAX_OPTIONS);
}

static void numbers(void)
{
    uint64_t value = 7;
    CHECK(parse_number("0", 10, &value) == 0 && value == 0);
    CHECK(parse_number("60", 60, &value) == 0 && value == 60);
    CHECK(parse_number("61", 60, &value) == -1 && value == 60);
    CHECK(parse_number("0x1f", 100, &value) == 0 && value == 31);
    CHECK(parse_number("18446744073709551615", ~0UL, &value) == 0 && value == ~0UL);
    CHECK(parse_number("18446744073709551616", ~0UL, &value) == -1);
    CHECK(parse_number("0xffffffffffffffff", ~0UL, &value) == 0 && value == ~0UL);
    CHECK(parse_number("0x10000000000000000", ~0UL, &value) == -1);
    CHECK(parse_number("", 10, &value) == -1 && parse_number("0x", 10, &value) == -1);
    CHECK(parse_number("1a", 100, &value) == -1 && parse_number("-1", 100, &value) == -1);
    CHECK(parse_number(NULL, 100, &value) == -1);
}

const struct unit_test cmdline_tests[] = {
    {"cmdline: numbers, decimal and hexadecimal, with a limit", numbers},
    {"cmdline: simple options", simple_options},
    {"cmdline: white space, and the last value wins", spaces_and_last_wins},
    {"cmdline: unknown and malformed options are reported and skipped", unknown_and_malformed},
    {"cmdline: a flag takes no value (nosmp)", flags},
    {"cmdline: too long and too many", too_long_and_too_many},
    {0},
};
