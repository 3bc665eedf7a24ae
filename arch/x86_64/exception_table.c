/* The exception table, and the nofault copy and MSR probe that use it (docs/labs/lab-2.md): an
 * instruction that may fault on purpose has an entry (itself, where to go instead), which the #PF,
 * #GP, #NP and #SS handlers look up; other kernel faults are bugs: traps.c panics with details. */
#include <arch/x86_64/faults.h>
#include <arch/x86_64/sections.h>

struct exception_table_entry {
    uint64_t instruction, fixup;
};
extern const struct exception_table_entry exception_table_start[], exception_table_end[]; /* ld */

struct trap_frame fixup_last_faults[CPUS_MAX]; /* by CPU index (user.c reports them) */

/* Exception-table entries for the instructions at labels 1 and 2 (label 3 follows them): a fault
 * at either runs `fixup`, placed in .text.fixup, and goes on at label 3. */
#define FAULTS_AT_1_AND_2_RUN(fixup)                                                             \
    ".pushsection .exception_table, \"a\"\n.quad 1b, 4f, 2b, 4f\n.popsection\n"                \
    ".pushsection .text.fixup, \"ax\"\n4: " fixup "\n   jmp 3b\n.popsection"

/* One byte copied, with an exception-table entry for each of its two accesses: returns 0, or -1
 * if either faulted (the fixup sets -1 and resumes after the copy). */
static int copy_byte(uint8_t *destination, const uint8_t *source)
{
    int error = 0;
    uint8_t value;
    __asm__ volatile("1: movb (%[source]), %[value]\n"
                     "2: movb %[value], (%[destination])\n"
                     "3:\n" FAULTS_AT_1_AND_2_RUN("movl $-1, %[error]")
                     : [error] "+r"(error), [value] "=&q"(value)
                     : [source] "r"(source), [destination] "r"(destination)
                     : "memory");
    return error;
}

int copy_from_kernel_nofault(void *destination, const void *source, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (copy_byte((uint8_t *)destination + i, (const uint8_t *)source + i))
            return -1;
    return 0;
}

NOKPROBE bool exception_table_fixup(struct trap_frame *frame)
{
    /* LAB 2 BEGIN: find the faulting instruction in the exception table and resume at its fixup */
    const struct exception_table_entry *e;
    for (e = exception_table_start; e < exception_table_end; e++)
        if (e->instruction == frame->rip) {
            fixup_last_fault = *frame;
            frame->rip = e->fixup;
            return true;
        }
    return false; /* not expected: traps.c panics with the details */
    /* LAB 2 STUB */
    //| return false;
    /* LAB 2 END */
}

bool msr_write_kept(uint32_t msr, uint64_t value)
{
    uint32_t low = (uint32_t)value, high = (uint32_t)(value >> 32);
    bool faulted = false;
    __asm__ volatile("1: wrmsr\n"
                     "2: rdmsr\n"
                     "3:\n" FAULTS_AT_1_AND_2_RUN("movb $1, %[faulted]")
                     : [faulted] "+r"(faulted), "+a"(low), "+d"(high)
                     : "c"(msr));
    return !faulted && ((uint64_t)high << 32 | low) == value;
}
