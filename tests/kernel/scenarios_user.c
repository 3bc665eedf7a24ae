/* User-mode scenarios: programs in ring 3 (kernel/user_programs.asm and the attack programs of
 * tests/kernel/user_attacks.asm), what they must not be
 * able to do, and NMIs that arrive from user mode or on the SYSCALL path: the two NMI bugs Linux
 * fixed in 2015 (docs/nmi.md, "NMIs and user mode"). */
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/stacks.h>
#include <arch/x86_64/timer.h>
#include <arch/x86_64/traps.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/nmi.h>
#include <kernel/printk.h>
#include <kernel/stacktrace.h>
#include <kernel/task.h>
#include <kernel/user.h>
#include <tests/kernel/scenario.h>
#include <tests/kernel/scenario_nmi.h>

#define PAGE_FAULT_PROTECTION 1 /* error code bits: the page was present, ... */
#define PAGE_FAULT_USER 4       /* ... and the access came from user mode */
#define SEGMENT_PRESENT (1UL << 47)

extern uint64_t gdt[]; /* arch/x86_64/gdt.c: only the tests look at it from outside */
extern char syscall_sysretq[], user_iretq[], nmi_from_user[], nmi_user_iretq[]; /* user_entry.asm, nmi_entry.asm */
static volatile uint64_t canary = 0x5afe;

static bool user_mode_here(void)
{
    if (nmi_current_strategy() == NMI_NESTED || nmi_current_strategy() == NMI_RET)
        return true;
    scenario_skip_reason("user mode needs nmi=nested");
    return false;
}

struct user_result user_last;

static void note_user_result(int64_t status, const struct trap_frame *killed_by, uint64_t cr2,
                             uint64_t syscalls)
{
    user_last = (struct user_result){.killed = killed_by, .status = status, .syscalls = syscalls};
    if (killed_by) {
        user_last.fault = *killed_by;
        user_last.address = cr2;
    }
}

void user_result_clear(void)
{
    user_last = (struct user_result){.status = -1};
    user_task_ended = note_user_result;
}

static void run(const char *name, uint64_t argument)
{
    user_result_clear();
    expect(user_run(name, argument, true), "the user program %s did not start", name);
}

static void expect_exit(const char *name, uint64_t argument, uint64_t syscalls)
{
    run(name, argument);
    expect(!user_last.killed && user_last.status == 0, "%s %lu: %s, status %ld", name, argument,
           user_last.killed ? "killed" : "exited", user_last.status);
    expect(user_last.syscalls == syscalls, "%s made %lu system calls, not %lu", name, user_last.syscalls, syscalls);
}

static void expect_killed(const char *name, uint64_t argument, unsigned vector)
{
    run(name, argument);
    expect(user_last.killed && user_last.fault.vector == vector, "%s %lx was not killed by %s", name, argument,
           trap_name(vector));
    expect(vector != VECTOR_PAGE_FAULT || (user_last.fault.error_code & PAGE_FAULT_USER),
           "%s: the page fault was not a user-mode one (error code %lx)", name, user_last.fault.error_code);
}

/* user-mode: a program runs, makes system calls, exits; a long loop of them keeps its registers. */
static enum scenario_result user_mode(void)
{
    if (!user_mode_here())
        return SCENARIO_SKIP;
    int tasks = task_count();
    expect_exit("hello", 0, 2);
    expect_exit("syscall-loop", 500, 501);
    expect(task_count() == tasks, "%d tasks left, not %d", task_count(), tasks);
    return SCENARIO_PASS;
}

/* user-security: kernel memory, the NMI stack, the IDT, low memory, privileged instructions, and
 * system calls with bad pointers and numbers. Every attempt fails; the kernel goes on. */
static enum scenario_result user_security(void)
{
    if (!user_mode_here())
        return SCENARIO_SKIP;
    expect_killed("read", KERNEL_VMA + 0x100000, VECTOR_PAGE_FAULT);
    expect(user_last.fault.error_code & PAGE_FAULT_PROTECTION, "the kernel image is not mapped at all?");
    expect_killed("read", ist_stack_top(IST_NMI) - 8, VECTOR_PAGE_FAULT);
    expect_killed("read", 0x100000, VECTOR_PAGE_FAULT); /* the identity map of low memory */
    expect_killed("read-idt", 0, VECTOR_PAGE_FAULT);
    expect_killed("write", (uint64_t)&canary, VECTOR_PAGE_FAULT);
    expect(canary == 0x5afe, "a user program changed kernel memory");
    static const char *const privileged[] = {"cli", "hlt", "read-cr3", "wrmsr", "out"};
    for (unsigned i = 0; i < sizeof privileged / sizeof privileged[0]; i++)
        expect_killed(privileged[i], 0, VECTOR_GENERAL_PROTECTION);
    expect_exit("bad-syscalls", 0, 16);
    expect_exit("hello", 0, 2);
    return SCENARIO_PASS;
}

/* user-fuzz: thousands of random system calls from three seeds. */
static enum scenario_result user_fuzz(void)
{
    if (!user_mode_here())
        return SCENARIO_SKIP;
    for (uint64_t seed = 1; seed <= 3; seed++)
        expect_exit("fuzz", seed, 3001);
    return SCENARIO_PASS;
}

/* user-noncanonical-return: a system call whose return address is not canonical must not leave
 * by SYSRET (on Intel it faults in ring 0 with the user's RSP): it leaves by iretq, which faults
 * on the kernel stack (the CPUs, Bochs), or, where the CPU does not check on iretq (QEMU's TCG),
 * at the first fetch in user mode. Either way the task is killed and the kernel goes on. */
static int64_t return_to_noncanonical(struct trap_frame *frame)
{
    frame->rip = 0x0000800000000000UL; /* the first address past the lower half */
    return 0;
}

static enum scenario_result user_noncanonical_return(void)
{
    if (!user_mode_here())
        return SCENARIO_SKIP;
    syscall_table[SYS_TEST_FIRST + 2] = return_to_noncanonical;
    expect_killed("noncanonical", 0, VECTOR_GENERAL_PROTECTION);
    syscall_table[SYS_TEST_FIRST + 2] = NULL;
    bool on_iretq = user_last.fault.rip == (uint64_t)user_iretq;
    expect(on_iretq || user_last.fault.rip == 0x0000800000000000UL,
           "the fault was at %lx, not on the iretq to user mode nor at the address", user_last.fault.rip);
    printk("# the return to a non-canonical RIP went by iretq and faulted %s\n",
           on_iretq ? "on the iretq, in the kernel" : "in user mode, at the RIP (this CPU does not check on iretq)");
    expect_exit("hello", 0, 2);
    return SCENARIO_PASS;
}

/* user-rsp-in-nmi-stack (CVE-2015-3291): a program points RSP into the NMI stack and makes system
 * calls; the runner injects an NMI on every instruction of the SYSCALL entry and return, from
 * syscall_entry to syscall_sysretq: the first three and the last three run with RSP there. Rule
 * (c) must see DF clear and take each one for a first NMI. */
#define SYSCALL_PATH_MAX 96
uint64_t user_test_rsp; /* read by tests/run.py */
static uint64_t episodes, landed[SYSCALL_PATH_MAX], entries_seen, last_progress_tsc;

static void record_landing(uint64_t pass)
{
    if (pass <= SYSCALL_PATH_MAX)
        landed[pass - 1] = nmi_this_cpu()->interrupted_rip;
}

/* The program's "go on?" call: yes until every NMI came, or none has come for 10 s (lost ones). */
static int64_t go_on(struct trap_frame *frame)
{
    if (nmi_this_cpu()->entries != entries_seen) {
        entries_seen = nmi_this_cpu()->entries;
        last_progress_tsc = rdtsc();
    }
    return external_claimed < episodes && rdtsc() - last_progress_tsc < 10000 * tsc_khz;
}

static enum scenario_result user_rsp_in_nmi_stack(void)
{
    if (!user_mode_here() || !scenario_nmi_start(record_landing, true))
        return SCENARIO_SKIP;
    user_test_rsp = ist_stack_bottom(IST_NMI) + 2048;
    episodes = wait_for_debugger("break on each instruction from syscall_entry to syscall_sysretq, inject an NMI");
    entries_seen = nmi_this_cpu()->entries;
    last_progress_tsc = rdtsc();
    syscall_table[SYS_TEST_FIRST] = go_on;
    run("rsp-in-nmi-stack", user_test_rsp);
    syscall_table[SYS_TEST_FIRST] = NULL;
    nmi_provoke_stop();
    for (uint64_t i = 0; i < external_claimed && i < SYSCALL_PATH_MAX; i++)
        printk("# an NMI at syscall_entry+0x%lx was handled as a first NMI%s\n", landed[i] - (uint64_t)syscall_entry,
               landed[i] == (uint64_t)syscall_sysretq ? " (syscall_sysretq)" : "");
    if (!expect(delta_nested() == 0, "%lu NMIs on the SYSCALL path taken for nested (rule %s) and lost",
                delta_nested(), rule_name(nmi_this_cpu()->nested_rule)))
        printk("# the last one lost: at syscall_entry+0x%lx, RSP %016lx\n", nmi_this_cpu()->nested_rip - (uint64_t)syscall_entry,
               nmi_this_cpu()->nested_rsp);
    expect(external_claimed == episodes, "%lu of %lu NMIs on the SYSCALL path handled", external_claimed, episodes);
    expect(external_claimed && landed[0] == (uint64_t)syscall_entry &&
               landed[external_claimed - 1] == (uint64_t)syscall_sysretq,
           "the NMIs did not land from syscall_entry to syscall_sysretq");
    expect(!user_last.killed && user_last.status == 0, "the program did not exit normally");
    return SCENARIO_PASS;
}

/* user-nmi-exit-all: the runner stops a program in its work loop and injects an NMI; the handler
 * faults (NMIs are unblocked from then on), and the runner injects a second NMI on one instruction
 * of nmi_from_user's way out, after the C handler: on the task's kernel stack, after the swapgs
 * (the user's GS), on the final iretq. One pair per instruction. Each second NMI is an NMI of its
 * own (the first one's handler is done): it must be handled, and the program must find its
 * registers and stack as it left them. */
static uint64_t from_user_count, exit_path_count;

static void fault_and_record(uint64_t pass)
{
    uint64_t rip = nmi_this_cpu()->interrupted_rip;
    if (rip >= USER_BASE && rip < USER_END) {
        from_user_count++;
    } else if (rip >= (uint64_t)nmi_from_user && rip <= (uint64_t)nmi_user_iretq) {
        exit_path_count++;
        printk("# an NMI at nmi_from_user+0x%lx, on the way back to user mode, was handled\n",
               rip - (uint64_t)nmi_from_user);
    }
    nmi_provoke_fault(NMI_FAULT_ADDRESS);
}

static enum scenario_result user_nmi_exit_all(void)
{
    if (!user_mode_here() || !scenario_nmi_start(fault_and_record, true))
        return SCENARIO_SKIP;
    from_user_count = exit_path_count = 0;
    episodes = wait_for_debugger("break in the program, inject an NMI; break on an instruction of nmi_from_user "
                                 "after the C handler, inject another; each instruction");
    entries_seen = nmi_this_cpu()->entries;
    last_progress_tsc = rdtsc();
    syscall_table[SYS_TEST_FIRST] = go_on;
    run("syscall-loop", 0);
    syscall_table[SYS_TEST_FIRST] = NULL;
    nmi_provoke_stop();
    expect(external_claimed == episodes && from_user_count == episodes / 2 && exit_path_count == episodes / 2,
           "of %lu NMIs, %lu handled: %lu from user mode, %lu on nmi_from_user's way out", episodes, external_claimed,
           from_user_count, exit_path_count);
    expect(delta_nested() == 0, "%lu NMIs taken for nested", delta_nested());
    expect(!user_last.killed && user_last.status == 0, "the program %s, status %ld (2: a register or its stack changed)",
           user_last.killed ? "was killed" : "exited", user_last.status);
    return SCENARIO_PASS;
}

/* user-nmi-fault-return (CVE-2015-5157): an NMI from user mode whose handler faults (a nested
 * NMI follows) and whose return to user mode faults, the user code segment having been made not
 * present. The return's fault must be taken on the task's kernel stack and kill the task. */
static int64_t make_user_code_not_present(struct trap_frame *frame)
{
    gdt[USER_CODE_SELECTOR / 8] &= ~SEGMENT_PRESENT; /* SYSRET does not look; the next iretq will */
    frame->rflags &= ~RFLAGS_IF;             /* and only an NMI interrupts the program now */
    printk("# user-nmi-fault-return: the user code segment is not present; inject an NMI\n");
    return 0;
}

static enum scenario_result user_nmi_fault_return(void)
{
    if (!user_mode_here() || !scenario_nmi_start(fault_with_nmi_pending, true))
        return SCENARIO_SKIP;
    syscall_table[SYS_TEST_FIRST + 1] = make_user_code_not_present;
    run("cs-not-present", 0);
    gdt[USER_CODE_SELECTOR / 8] |= SEGMENT_PRESENT;
    syscall_table[SYS_TEST_FIRST + 1] = NULL;
    nmi_provoke_stop();
    expect(user_last.killed && user_last.fault.vector == VECTOR_SEGMENT_NOT_PRESENT &&
               (user_last.fault.error_code & ~3UL) == (USER_CODE_SELECTOR & ~3UL),
           "the task was not killed by #NP on its code segment");
    expect(user_last.fault.rip == (uint64_t)nmi_user_iretq, "the fault was at %lx, not on the NMI's iretq",
           user_last.fault.rip);
    expect(external_claimed == 1 && self_claimed == self_sent && provoke_faults == 1,
           "NMIs: %lu injected handled (not 1), %lu of %lu self-NMIs handled", external_claimed, self_claimed,
           self_sent);
    expect(delta_nested() == 1 && nmi_this_cpu()->nested_rule == NESTED_LATCHED,
           "%lu nested NMIs, the last by rule %s, not 1 by the latch", delta_nested(),
           rule_name(nmi_this_cpu()->nested_rule));
    expect_exit("hello", 0, 2);
    return SCENARIO_PASS;
}

/* user-nmi-cr2: a program reads kernel memory; the runner stops the CPU on the first instruction
 * of the page-fault entry and injects an NMI there, whose handler faults at another address. The
 * task must still be killed for the address it read: the NMI put CR2 back. */
static enum scenario_result user_nmi_cr2(void)
{
    if (!user_mode_here() || !scenario_nmi_start(fault_elsewhere, true))
        return SCENARIO_SKIP;
    wait_for_debugger("break at the page fault's entry stub, inject an NMI");
    expect_killed("read", KERNEL_VMA + 0x100000, VECTOR_PAGE_FAULT);
    nmi_provoke_stop();
    expect(user_last.address == KERNEL_VMA + 0x100000, "the task was killed for address %lx, not the one it read "
           "(%lx): CR2 was not put back", user_last.address, KERNEL_VMA + 0x100000);
    expect(provoke_passes == 1 && provoke_faults == 1, "the NMI did not arrive and fault once (passes %lu, faults "
           "%lu)", provoke_passes, provoke_faults);
    expect(nmi_this_cpu()->interrupted_rip == page_fault_entry(), "the NMI landed at %lx, not at the "
           "page-fault entry", nmi_this_cpu()->interrupted_rip);
    return SCENARIO_PASS;
}

/* user-nmi-storm: three programs make system calls in a loop while self-NMIs and the runner's
 * NMIs storm, in rounds until enough NMIs came from outside and from user mode; every NMI
 * handler pass faults and hits int3, every third one nests an NMI. */
#define STORM_TASKS 3
#define STORM_CALLS 400
#define STORM_ROUNDS_MAX 40
static uint64_t from_user, on_syscall_path;

static void storm_from_user(uint64_t pass)
{
    uint64_t rip = nmi_this_cpu()->interrupted_rip;
    from_user += rip >= USER_BASE && rip < USER_END;
    on_syscall_path += rip >= (uint64_t)syscall_entry && rip <= (uint64_t)syscall_sysretq;
    storm_pass(pass);
}

static enum scenario_result user_nmi_storm(void)
{
    if (!user_mode_here() || !scenario_nmi_start(storm_from_user, true))
        return SCENARIO_SKIP;
    from_user = on_syscall_path = 0;
    user_result_clear();
    int tasks = task_count();
    printk("# user storm: start\n");
    for (int round = 0; round < STORM_ROUNDS_MAX && (external_claimed < 20 || from_user < 5); round++) {
        for (int i = 0; i < STORM_TASKS; i++)
            user_run("syscall-loop", STORM_CALLS, false);
        while (task_count() > tasks) {
            send_self_nmi();
            spin_until(&self_claimed, self_sent);
            task_sleep(1);
        }
    }
    printk("# user storm: end\n");
    /* The runner stops once it reads that line; an NMI it sent just before still claimed here */
    task_sleep(TIMER_HZ / 3);
    nmi_provoke_stop();
    printk("# user storm: %lu NMIs from user mode, %lu on the SYSCALL entry or exit\n", from_user, on_syscall_path);
    expect(self_claimed == self_sent, "%lu of %lu self-NMIs handled", self_claimed, self_sent);
    expect(int3_hits == provoke_passes && provoke_faults == provoke_passes + sent_inside,
           "%lu int3 hits and %lu faults in %lu passes", int3_hits, provoke_faults, provoke_passes);
    expect(from_user >= 5, "only %lu NMIs arrived from user mode", from_user);
    expect(external_claimed >= 20, "only %lu NMIs from outside arrived", external_claimed);
    expect(nmi_this_cpu()->unknown == 0, "unknown NMIs reported");
    expect(!user_last.killed && user_last.status == 0 && user_last.syscalls == STORM_CALLS + 1,
           "the last program to end: %s, status %ld, %lu system calls", user_last.killed ? "killed" : "exited",
           user_last.status, user_last.syscalls);
    return SCENARIO_PASS;
}

/* user-rflags (issue 21): three programs set flags that ring 3 may set (NT, AC, DF, ID) and make
 * every system call in a loop, yielding, while this task yields and checks its own RFLAGS each
 * time it runs again, and the test's system call checks the kernel's. NT carried into the kernel
 * makes the next kernel iretq raise #GP (an IRET with NT set is a task return, which long mode
 * refuses); AC carried into the kernel turns SMAP off; TF and DF break the entry's assumptions. */
#define RFLAGS_TF (1UL << 8)
#define RFLAGS_DF (1UL << 10)
#define RFLAGS_NT (1UL << 14)
#define RFLAGS_AC (1UL << 18)
#define RFLAGS_ID (1UL << 21)
#define RFLAGS_NOT_IN_KERNEL (RFLAGS_TF | RFLAGS_DF | RFLAGS_NT | RFLAGS_AC) /* outside stac */
#define RFLAGS_ROUNDS 100
#define RFLAGS_CALLS_PER_ROUND 6
#define CR4_SMAP (1UL << 21)
static volatile uint64_t kernel_flags_seen, kernel_flag_checks;

/* Kernel code that is not in a stac..clac window: RFLAGS must have none of the user's flags. */
static void check_kernel_flags(void)
{
    kernel_flag_checks++;
    kernel_flags_seen |= read_rflags() & RFLAGS_NOT_IN_KERNEL;
}

static int64_t flags_in_system_call(struct trap_frame *frame)
{
    check_kernel_flags();
    return 0;
}

static bool expect_kernel_flags_clear(void)
{
    return expect(kernel_flags_seen == 0, "kernel code ran with RFLAGS bits %lx from user mode "
                  "(%lu checks)", kernel_flags_seen, kernel_flag_checks);
}

static enum scenario_result user_rflags(void)
{
    if (!user_mode_here())
        return SCENARIO_SKIP;
    static const uint64_t flag_sets[] = {RFLAGS_NT, RFLAGS_AC | RFLAGS_DF,
                                         RFLAGS_NT | RFLAGS_AC | RFLAGS_DF | RFLAGS_ID};
    kernel_flags_seen = kernel_flag_checks = 0;
    syscall_table[SYS_TEST_FIRST] = flags_in_system_call;
    user_result_clear();
    int tasks = task_count();
    for (unsigned i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++)
        expect(user_run("rflags", flag_sets[i], false), "rflags %lx did not start", flag_sets[i]);
    while (task_count() > tasks) {
        task_yield();
        check_kernel_flags();
    }
    syscall_table[SYS_TEST_FIRST] = NULL;
    expect_kernel_flags_clear();
    expect(!user_last.killed && user_last.status == 0 &&
               user_last.syscalls == RFLAGS_ROUNDS * RFLAGS_CALLS_PER_ROUND + 1,
           "the last rflags program: %s, status %ld (1: a system call lost its flags), %lu calls",
           user_last.killed ? "killed" : "exited", user_last.status, user_last.syscalls);
    expect_exit("hello", 0, 2);
    return SCENARIO_PASS;
}

/* user-single-step-syscall: TF set right before SYSCALL. The kernel must not take the #DB itself
 * (FMASK clears TF, and SYSCALL decides on the TF it leaves); the #DB comes in user mode after
 * SYSRET, on the instruction after the SYSCALL, and kills the program, as any user fault does. */
static enum scenario_result user_single_step_syscall(void)
{
    if (!user_mode_here())
        return SCENARIO_SKIP;
    expect_killed("single-step-syscall", 0, VECTOR_DEBUG);
    expect(user_last.syscalls == 1, "%lu system calls before the #DB, not 1", user_last.syscalls);
    expect_exit("hello", 0, 2);
    return SCENARIO_PASS;
}

/* user-pop-ss (CVE-2018-8897): a data breakpoint on the word a program loads SS from, right before
 * SYSCALL and int3. Where the CPU holds the #DB back past the next instruction, it lands on the
 * kernel's first instruction for it, in ring 0 with the user's GS (and, for SYSCALL, the user's
 * RSP): the kernel must tell GS by the MSR, not by CS, and go on. The log says where it landed. */
#define MSR_GS_BASE 0xc0000101
#define DR7_ENABLE_0 (1UL << 0)
#define DR7_READ_WRITE_0 (3UL << 16)
#define DR7_TWO_BYTES_0 (1UL << 18)

static void debug_watch(uint64_t address, uint64_t dr7)
{
    __asm__ volatile("mov %0, %%dr0" : : "r"(address));
    __asm__ volatile("mov %0, %%dr7" : : "r"(dr7));
}

static long arm_watch(struct trap_frame *frame)
{
    uint64_t address = frame->rdi;
    if (address < USER_BASE || address + 2 > USER_END || (address & 1))
        return -EINVAL;
    debug_watch(address, DR7_ENABLE_0 | DR7_READ_WRITE_0 | DR7_TWO_BYTES_0);
    return 0;
}

/* Before the kernel's own handling: where a #DB in ring 0 landed, and with which GS. */
static uint64_t ring0_debug_rip;
static bool ring0_debug_kernel_gs;

static bool note_ring0_debug(struct trap_frame *frame)
{
    if (!(frame->cs & 3)) {
        ring0_debug_rip = frame->rip;
        ring0_debug_kernel_gs = rdmsr(MSR_GS_BASE) == (uint64_t)&this_cpu()->local;
    }
    return false; /* not claimed: the kernel's own handling goes on */
}

static void run_watched(const char *name)
{
    ring0_debug_rip = 0;
    run(name, 0);
    debug_watch(0, 0); /* the next program's stack may be at the same address */
    if (ring0_debug_rip) {
        uint64_t offset = 0;
        const char *symbol = symbol_lookup(ring0_debug_rip, &offset);
        printk("# %s: the held-back #DB landed in ring 0 at %s+%lu, with the %s GS\n", name,
               symbol ? symbol : "?", offset, ring0_debug_kernel_gs ? "kernel's" : "user's");
        expect(ring0_debug_kernel_gs, "the #DB in ring 0 ran with the user's GS");
    }
    if (user_last.killed)
        printk("# %s: killed by %s at RIP %016lx, %s mode\n", name,
               trap_name((unsigned)user_last.fault.vector), user_last.fault.rip,
               user_last.fault.cs & 3 ? "user" : "kernel");
    else
        printk("# %s: exited with status %ld\n", name, user_last.status);
}

static enum scenario_result user_pop_ss(void)
{
    if (!user_mode_here())
        return SCENARIO_SKIP;
    syscall_table[SYS_TEST_FIRST + 3] = arm_watch;
    trap_register(VECTOR_DEBUG, note_ring0_debug);
    run_watched("pop-ss-syscall");
    run_watched("pop-ss-int3");
    trap_register(VECTOR_DEBUG, NULL);
    syscall_table[SYS_TEST_FIRST + 3] = NULL;
    expect_exit("hello", 0, 2);
    return SCENARIO_PASS;
}

/* user-ac-window (SMAP: -cpu max): the runner stops the CPU inside copy_to_user's stac..clac
 * window, a few times, and injects an NMI there. The NMI handler is kernel code outside the
 * window, so it must run with AC clear; it sends this CPU a timer tick, which the CPU takes in the
 * window right after the NMI's iretq, and which switches tasks: the tick must run with AC clear,
 * and so must the kernel thread it switches to, which yields in a loop and checks its RFLAGS. */
static volatile bool ac_checker_done;

static void ac_window_nmi(uint64_t pass)
{
    check_kernel_flags();
    apic_send_ipi(apic_id(), VECTOR_TIMER); /* fixed delivery: taken once interrupts are on */
}

static void ac_checker(void *unused)
{
    while (!ac_checker_done) {
        check_kernel_flags();
        task_yield();
    }
}

static enum scenario_result user_ac_window(void)
{
    if (!user_mode_here())
        return SCENARIO_SKIP;
    if (!(read_cr4() & CR4_SMAP)) {
        scenario_skip_reason("no SMAP on this CPU: no stac window");
        return SCENARIO_SKIP;
    }
    if (!scenario_nmi_start(ac_window_nmi, true))
        return SCENARIO_SKIP;
    kernel_flags_seen = kernel_flag_checks = 0;
    ac_checker_done = false;
    int tasks = task_count();
    expect(task_create("ac-checker", ac_checker, NULL) != NULL, "no task for the checker");
    episodes = wait_for_debugger("break inside copy_to_user's stac window, inject an NMI; "
                                 "a few times");
    run("rflags", RFLAGS_AC);
    ac_checker_done = true;
    while (task_count() > tasks)
        task_yield();
    nmi_provoke_stop();
    expect(external_claimed == episodes, "%lu of %lu NMIs in the stac window handled",
           external_claimed, episodes);
    expect_kernel_flags_clear();
    expect(!user_last.killed && user_last.status == 0, "the program %s, status %ld",
           user_last.killed ? "was killed" : "exited", user_last.status);
    return SCENARIO_PASS;
}

const struct scenario user_scenarios[] = {
    {"user-mode", user_mode, true}, /* in the self-test: SYSCALL, SMEP and SMAP on a real CPU */
    {"user-security", user_security, true},
    {"user-fuzz", user_fuzz, false},
    {"user-noncanonical-return", user_noncanonical_return, false},
    {"user-rsp-in-nmi-stack", user_rsp_in_nmi_stack, false},
    {"user-nmi-exit-all", user_nmi_exit_all, false},
    {"user-nmi-fault-return", user_nmi_fault_return, false},
    {"user-nmi-cr2", user_nmi_cr2, false},
    {"user-nmi-storm", user_nmi_storm, false},
    {"user-rflags", user_rflags, false},
    {"user-single-step-syscall", user_single_step_syscall, false},
    {"user-pop-ss", user_pop_ss, false},
    {"user-ac-window", user_ac_window, false},
    {0},
};
