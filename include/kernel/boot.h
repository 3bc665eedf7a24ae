/* What the kernel learned while booting, for the rest of the kernel to read. */
#pragma once
#include <kernel/multiboot.h>

extern struct boot_info boot_info;
extern bool serial_console_present;
