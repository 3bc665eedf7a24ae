/* The unit tests' stand-in for the kernel's cpu.h: CPUID and the MSRs become calls into a
 * simulated CPU (test_perf_counter.c), so code that probes hardware runs on the host against
 * CPUs this machine's emulators do not model. Only what such code uses is here. */
#pragma once
#include <stdint.h>

void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);
uint64_t rdmsr(uint32_t msr);
void wrmsr(uint32_t msr, uint64_t value);
