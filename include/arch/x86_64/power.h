/* Leaving: QEMU's isa-debug-exit for test results, ACPI for power-off, the keyboard controller for
 * reboot. */
#pragma once
#include <stdbool.h>

/* Under QEMU with -device isa-debug-exit,iobase=0xf4: exit with status 33 (pass) or 35 (fail).
 * Returns when that is not possible. */
void qemu_exit(bool pass);
__attribute__((noreturn)) void machine_poweroff(void);
__attribute__((noreturn)) void machine_reboot(void);
