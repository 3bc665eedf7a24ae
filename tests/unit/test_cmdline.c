#include <kernel/cmdline.h>
#include "unit.h"

static char reports[8][160];
static int report_count;
static void record(const char *message)
{
    if (report_count < 8)
        snprintf(reports[report_count++], sizeof reports[0], "%s", message);
}

static int parse(struct cmdline *cl, const char *line)
{
    report_count = 0;
    return cmdline_parse(cl, line, record);
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
    CHECK_STRING(reports[0], "cmdline: 'bogus' is not a known option (ignored)");
    CHECK_STRING(cmdline_get(&cl, "test"), "boot");
    CHECK(parse(&cl, "test") == 1 && cl.count == 0);
    CHECK(strstr(reports[0], "needs a value") != NULL);
    CHECK(parse(&cl, "test=") == 1 && cl.count == 0);
    CHECK(strstr(reports[0], "empty value") != NULL);
    CHECK(parse(&cl, "=x") == 1);
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

const struct unit_test cmdline_tests[] = {
    {"cmdline: simple options", simple_options},
    {"cmdline: white space, and the last value wins", spaces_and_last_wins},
    {"cmdline: unknown and malformed options are reported and skipped", unknown_and_malformed},
    {"cmdline: too long and too many", too_long_and_too_many},
    {0},
};
