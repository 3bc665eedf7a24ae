/* Test scenarios, chosen with test=NAME on the kernel command line. Each prints TAP on serial
 * ("ok 1 - NAME" or "not ok 1 - NAME # why") and the kernel then powers off; under QEMU the exit
 * status says pass (33) or fail (35). tests/run.py boots them and reads the output. */
#pragma once
#include <stdbool.h>
#include <kernel/shell.h> /* scenario_run, scenario_abort: what the kernel calls */
#include <tests/kernel/kernel_state.h>

enum scenario_result { SCENARIO_PASS, SCENARIO_FAIL, SCENARIO_SKIP };

struct scenario {
    const char *name;
    enum scenario_result (*run)(void);
    bool in_self_test; /* part of test=all, the self-test a real PC can run from the GRUB menu */
};

/* Records a failed expectation (printed as a TAP comment); the scenario then fails. */
__attribute__((format(printf, 2, 3))) bool expect(bool ok, const char *format, ...);
bool scenario_failed(void); /* an expectation has failed in the running scenario */
/* Sets the reason printed after "# SKIP"; the scenario returns SCENARIO_SKIP. */
void scenario_skip_reason(const char *reason);
/* Ends the running scenario from wherever it is (an NMI handler, say): TAP line, then power off. */
__attribute__((noreturn)) void scenario_complete(enum scenario_result result);

/* The scenario lists, one per source file of scenarios. */
extern const struct scenario boot_scenarios[], nmi_scenarios[], story_scenarios[], verify_scenarios[], user_scenarios[],
    smp_scenarios[];
extern const struct scenario lab_scenarios[]; /* scenarios_labs.c: the labs' whole contracts */
extern const struct scenario bench_scenarios[]; /* scenarios_bench.c: what make bench measures */
extern const struct scenario breakpoint_scenarios[]; /* scenarios_breakpoint.c: RF and nmi=ret */
extern const struct scenario ret_exit_scenarios[]; /* scenarios_ret_exit.c: lab 8's contract */
bool scenario_running(void);
