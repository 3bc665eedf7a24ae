/* A very small unit-test harness for the kernel's pure-C parts, built for the host.
 * TEST(name) defines a test; CHECK(condition) records a failure with its line. main.c runs every
 * test and prints TAP, which tests/run.py reads. */
#pragma once
#include <stdio.h>
#include <string.h>

struct unit_test {
    const char *name;
    void (*run)(void);
};

extern int unit_failures;
#define CHECK(condition)                                                                       \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #condition);             \
            unit_failures++;                                                                   \
        }                                                                                      \
    } while (0)
#define CHECK_STRING(actual, expected)                                                         \
    do {                                                                                       \
        if (strcmp((actual), (expected))) {                                                    \
            printf("# %s:%d: got \"%s\", expected \"%s\"\n", __FILE__, __LINE__, (actual), (expected)); \
            unit_failures++;                                                                   \
        }                                                                                      \
    } while (0)

/* Each test file ends with a list of its tests, named <file>_tests and terminated by {0}. */
extern const struct unit_test format_tests[], cmdline_tests[], multiboot_tests[], madt_tests[],
    perf_counter_tests[];
