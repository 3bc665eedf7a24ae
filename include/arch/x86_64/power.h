/* Leaving: ACPI for power-off, the keyboard controller for reboot. (The tests' way out, QEMU's
 * isa-debug-exit, is theirs: tests/kernel/scenario.c.) */
#pragma once
__attribute__((noreturn)) void machine_poweroff(void);
__attribute__((noreturn)) void machine_reboot(void);
