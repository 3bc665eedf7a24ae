#include "unit.h"

int unit_failures;

int main(void)
{
    const struct unit_test *lists[] = {format_tests, cmdline_tests, multiboot_tests, madt_tests,
                                       perf_counter_tests};
    int number = 0, failed = 0;
    printf("TAP version 13\n");
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (const struct unit_test *t = lists[l]; t->name; t++) {
            int before = unit_failures;
            t->run();
            int ok = unit_failures == before;
            failed += !ok;
            printf("%s %d - %s\n", ok ? "ok" : "not ok", ++number, t->name);
        }
    printf("1..%d\n", number);
    return failed != 0;
}
