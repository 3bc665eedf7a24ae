# nmilab: `make` builds build/kernel.elf and build/nmilab.iso; `make help` lists the rest.
.DEFAULT_GOAL := all # (rules for single objects come before `all` below)

BUILD := build
CMDLINE ?=
export CMDLINE # recipes read it as "$$CMDLINE": quotes, & and | in it reach the shell as data
# GFXPAYLOAD=WxH: the framebuffer size GRUB sets under UEFI (default: GRUB's choice).
GFXPAYLOAD ?=
export GFXPAYLOAD
QEMU ?= qemu-system-x86_64
QEMU_MEMORY ?= 256M
QEMU_CPUS ?= 2

# A cross compiler when there is one, else the host's gcc (x86_64 hosts only) with the
# freestanding flags below. `make CC=clang` works too.
CROSS := $(if $(shell command -v x86_64-elf-gcc 2>/dev/null),x86_64-elf-,)
ifeq ($(origin CC),default)
CC := $(CROSS)gcc
endif
LD := $(CROSS)ld
OBJCOPY := $(CROSS)objcopy
export OBJCOPY
NM := $(CROSS)nm
HOSTCC ?= cc
ifeq ($(CROSS),)
ifneq ($(shell uname -m),x86_64)
$(error nmilab: no x86_64-elf-gcc on PATH and this host is not x86_64; install an x86_64-elf cross toolchain)
endif
endif

KERNEL_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
    -ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone -mgeneral-regs-only \
    -fno-stack-protector -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-optimize-sibling-calls \
    -fno-asynchronous-unwind-tables -fcf-protection=none \
    -nostdinc -isystem $(shell $(CC) -print-file-name=include) -Iinclude -I. -MMD -MP
# -g -F dwarf: line numbers for the assembly too (gdb, and the source lines of make viewer)
NASMFLAGS := -f elf64 -g -F dwarf -I$(BUILD)/ -I./
LDFLAGS := -n -T linker.ld -z max-page-size=0x1000 -z noexecstack \
    $(if $(shell $(LD) --help 2>/dev/null | grep -- --no-warn-rwx-segments),--no-warn-rwx-segments,)

# NMI_BREAK=executing|repeat-window|iret-window|cr2-restore builds a kernel with that one piece of
# the NMI machinery left out, to watch the scenario that checks it fail (docs/nmi.md);
# NMI_BREAK=df-test|user-stack-switch puts back the check Linux had before each 2015 fix
# (CVE-2015-3291, CVE-2015-5157). Only the files that test it are compiled again when it changes
# (make verify builds the first four, make test the last two). NMI_BREAK=ret-test|ret-this-cpu
# breaks nmi=ret's exit: no in-NMI test (every exception returns by iretq), or the test on CPU 0's
# NMI stack whatever CPU runs it.
NMI_BREAK ?=
NMI_BREAK_OBJECTS := $(patsubst %,$(BUILD)/%.o,$(basename $(shell grep -rl NMI_DROP_ arch kernel)))
$(NMI_BREAK_OBJECTS): $(BUILD)/nmi_break.txt
$(BUILD)/nmi_break.txt: FORCE
	@mkdir -p $(BUILD)
	@echo '$(NMI_BREAK)' | cmp -s - $@ || echo '$(NMI_BREAK)' > $@
ifneq ($(NMI_BREAK),)
ifeq ($(filter $(NMI_BREAK),executing repeat-window iret-window cr2-restore df-test \
    user-stack-switch ret-test ret-this-cpu),)
$(error NMI_BREAK=$(NMI_BREAK): use executing, repeat-window, iret-window, cr2-restore, df-test, \
    user-stack-switch, ret-test or ret-this-cpu)
endif
NMI_BREAK_MACRO := NMI_DROP_$(shell echo '$(NMI_BREAK)' | tr 'a-z-' 'A-Z_')$(if $(filter executing repeat-window iret-window,$(NMI_BREAK)),_CHECK)
NMI_BREAK_DEFINE := -D$(NMI_BREAK_MACRO)
ifeq ($(shell grep -rl $(NMI_BREAK_MACRO) arch kernel),)
$(warning NMI_BREAK=$(NMI_BREAK): no code in this tree tests $(NMI_BREAK_MACRO) (a lab handout?), so it changes nothing; see docs/nmi.md)
endif
$(NMI_BREAK_OBJECTS): NMI_BREAK_FLAGS := $(NMI_BREAK_DEFINE)
endif

KERNEL_C := $(filter-out arch/x86_64/asm_offsets.c,$(wildcard arch/x86_64/*.c kernel/*.c tests/kernel/*.c))
KERNEL_ASM := $(wildcard boot/*.asm arch/x86_64/*.asm kernel/*.asm tests/kernel/*.asm)
KERNEL_OBJECTS := $(patsubst %.c,$(BUILD)/%.o,$(KERNEL_C)) $(patsubst %.asm,$(BUILD)/%.o,$(KERNEL_ASM))
# The parts of the kernel that are pure C, also compiled for the host's unit tests, and the
# performance counter, against a simulated CPU (tests/unit/hardware stands in for cpu.h).
UNIT_SOURCES := kernel/format.c kernel/cmdline.c kernel/multiboot.c arch/x86_64/madt.c \
    arch/x86_64/perf_counter.c
UNIT_TESTS := $(wildcard tests/unit/test_*.c)

.PHONY: all kernel iso run run-uefi debug test check check-docs check-source verify bench pictures \
    viewer handout grade deps help clean compile_commands.json FORCE
all: iso

kernel: $(BUILD)/kernel.elf
iso: $(BUILD)/nmilab.iso

deps:
	@tools/deps.sh

# Everything is rebuilt when the compiler or its flags change.
BUILD_CONFIG := $(CC) $(KERNEL_CFLAGS) $(NASMFLAGS)
$(BUILD)/config.txt: FORCE
	@mkdir -p $(BUILD)
	@echo '$(BUILD_CONFIG)' | cmp -s - $@ || echo '$(BUILD_CONFIG)' > $@

$(BUILD)/%.o: %.c $(BUILD)/config.txt
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(KERNEL_CFLAGS) $(NMI_BREAK_FLAGS) -c $< -o $@
$(BUILD)/symbols.o $(BUILD)/symbols_empty.o: $(BUILD)/%.o: $(BUILD)/%.c $(BUILD)/config.txt
	@$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.asm $(BUILD)/asm_offsets.inc $(BUILD)/config.txt | deps
	@mkdir -p $(dir $@)
	@echo "  NASM    $<"
	@nasm $(NASMFLAGS) $(NMI_BREAK_FLAGS) -MD $(@:.o=.d) -MP -o $@ $<

# Structure offsets for the assembler, computed by the compiler from the C declarations.
$(BUILD)/asm_offsets.inc: arch/x86_64/asm_offsets.c $(BUILD)/config.txt
	@mkdir -p $(BUILD)
	@$(CC) $(KERNEL_CFLAGS) -MF $(BUILD)/asm_offsets.d -MT $@ -S $< -o $(BUILD)/asm_offsets.s
	@sed -n 's/.*->\([A-Z0-9_]*\) \$$\{0,1\}\([0-9]*\).*/%define \1 \2/p' $(BUILD)/asm_offsets.s > $@

# Linked twice: the first link gives the addresses for the symbol table that backtraces use;
# the table sits after .text, so the second link leaves every function where it was (checked).
$(BUILD)/symbols_empty.c: tools/mksyms.sh
	@mkdir -p $(BUILD)
	@tools/mksyms.sh > $@
$(BUILD)/kernel.pass1.elf: $(KERNEL_OBJECTS) $(BUILD)/symbols_empty.o linker.ld
	@$(LD) $(LDFLAGS) -o $@ $(KERNEL_OBJECTS) $(BUILD)/symbols_empty.o
$(BUILD)/symbols.c: $(BUILD)/kernel.pass1.elf tools/mksyms.sh
	@tools/mksyms.sh $< > $@
$(BUILD)/kernel.elf: $(KERNEL_OBJECTS) $(BUILD)/symbols.o linker.ld
	@echo "  LD      $@"
	@$(LD) $(LDFLAGS) -o $@ $(KERNEL_OBJECTS) $(BUILD)/symbols.o
	@tools/mksyms.sh $@ | cmp -s - $(BUILD)/symbols.c || { echo "symbol table moved between links" >&2; rm -f $@; exit 1; }

# The ISO is rebuilt when the kernel, the command line or GFXPAYLOAD changes.
$(BUILD)/cmdline.txt: FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n%s\n' "$$CMDLINE" "$$GFXPAYLOAD" | cmp -s - $@ || printf '%s\n%s\n' "$$CMDLINE" "$$GFXPAYLOAD" > $@
$(BUILD)/nmilab.iso: $(BUILD)/kernel.elf grub.cfg tools/mkiso.sh $(BUILD)/cmdline.txt | deps
	@tools/mkiso.sh $(BUILD)/kernel.elf $@ "$$CMDLINE"
	@printf "built %s (kernel command line: '%s')\n" $@ "$$CMDLINE"

OVMF_CODE := $(firstword $(wildcard /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_CODE.fd /usr/share/ovmf/OVMF.fd))
OVMF_VARS := $(firstword $(wildcard /usr/share/OVMF/OVMF_VARS_4M.fd /usr/share/OVMF/OVMF_VARS.fd))
QEMU_DISPLAY := $(if $(DISPLAY)$(WAYLAND_DISPLAY),,-display none)
QEMU_COMMON := -m $(QEMU_MEMORY) -smp $(QEMU_CPUS) -serial mon:stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 $(QEMU_DISPLAY)

run: iso
	@echo "nmilab: booting under BIOS; the serial console is this terminal (quit: Ctrl-A then X)"
	$(QEMU) $(QEMU_COMMON) -cdrom $(BUILD)/nmilab.iso; status=$$?; [ $$status = 0 ] || [ $$status = 33 ]

run-uefi: iso
	@cp $(OVMF_VARS) $(BUILD)/ovmf_vars.fd
	@echo "nmilab: booting under UEFI (OVMF); quit: Ctrl-A then X"
	$(QEMU) $(QEMU_COMMON) -drive if=pflash,format=raw,readonly=on,file=$(OVMF_CODE) \
	    -drive if=pflash,format=raw,file=$(BUILD)/ovmf_vars.fd -cdrom $(BUILD)/nmilab.iso; \
	    status=$$?; [ $$status = 0 ] || [ $$status = 33 ]

debug: iso
	@echo "QEMU is halted with a gdb stub on localhost:1234. In another terminal:"
	@echo "  gdb -x tools/gdbinit"
	$(QEMU) $(QEMU_COMMON) -cdrom $(BUILD)/nmilab.iso -s -S

# Host unit tests of the pure-C parts and of the performance counter (against a simulated CPU:
# tests/unit/hardware comes first on the include path), with the address and undefined-behaviour
# sanitizers.
$(BUILD)/unit_tests: $(UNIT_TESTS) $(UNIT_SOURCES) tests/unit/main.c tests/unit/unit.h \
    tests/unit/hardware/arch/x86_64/cpu.h
	@mkdir -p $(BUILD)
	$(HOSTCC) -std=gnu11 -g -O1 -Wall -Wextra -Werror -Itests/unit/hardware -Iinclude -Itests/unit -fsanitize=address,undefined \
	    -fno-sanitize-recover=all -o $@ tests/unit/main.c $(UNIT_TESTS) $(UNIT_SOURCES)

# JOBS=N: scenarios booted at once (default: the CPUs + 1). tests/run.py also runs the docs and
# source checks, each counted in its last line.
JOBS ?=
RUN_JOBS := $(if $(JOBS),--jobs $(JOBS))
test: deps $(BUILD)/kernel.elf $(BUILD)/unit_tests
	python3 tests/run.py $(RUN_JOBS)

# The edit-compile-test loop: the build, the unit tests, one boot per NMI strategy, and the docs
# and source checks. make test is the whole suite.
check: all $(BUILD)/unit_tests
	python3 tests/run.py --quick $(RUN_JOBS)

# Every path, make target, shell command, option, scenario and kernel symbol the docs name exists.
check-docs: $(BUILD)/kernel.elf
	python3 tests/check_docs.py
# The kernel proper: lines of at most 100 characters, no chained ternaries, no includes of
# tests/, at most 6,000 non-blank lines.
check-source:
	python3 tests/check_source.py

# A nested NMI at every instruction boundary of the NMI path, each strategy, and the NMI_BREAK
# kernels (tests/verify.py); draws build/pictures/verify-*.svg. make test runs a bounded form.
verify: deps $(BUILD)/kernel.elf
	@python3 tests/verify.py --mutants --pictures
# BENCH_PARTS=paths,rates: only those of make bench's parts boot, paths, rates, test (default all).
BENCH_PARTS ?=
bench: deps $(BUILD)/kernel.elf
	BENCH_PARTS=$(BENCH_PARTS) python3 tests/bench.py

# The only target that changes docs/pictures/: it draws build/pictures/nmi-trace.svg and copies
# it there, with the verify-*.svg that make verify drew in build/pictures/.
pictures: deps $(BUILD)/kernel.elf
	python3 tools/pictures.py

# The only target that changes docs/viewer/: a nested NMI per strategy, recorded instruction by
# instruction from QEMU's gdb stub, as web pages (docs/viewer/index.html shows two side by side).
viewer: deps $(BUILD)/kernel.elf
	python3 tools/viewer.py
	python3 tools/viewer_renumber.py

# The labs (docs/labs/): a student tree with one lab's solution taken out, and its grader.
LAB ?=
handout:
	@python3 tools/labs.py handout $(LAB) $(DIR)
grade: deps $(BUILD)/kernel.elf
	@python3 tools/labs.py grade $(LAB)

compile_commands.json:
	bear --output $@ -- $(MAKE) -B $(BUILD)/kernel.elf $(BUILD)/unit_tests

help:
	@echo "nmilab make targets:"
	@echo "  make                     build build/kernel.elf and build/nmilab.iso"
	@echo "  make run [CMDLINE=...]   boot the ISO in QEMU under BIOS, serial console on this terminal"
	@echo "  make run-uefi            the same under UEFI (OVMF)"
	@echo "  make debug               start QEMU halted with a gdb stub; prints the gdb command"
	@echo "  make iso CMDLINE=...     build the ISO with that kernel command line on the default entry"
	@echo "  make test                host unit tests, every QEMU and Bochs scenario (tests/run.py --list), the lab"
	@echo "                           checks, the historical NMI_BREAK kernels, a bounded make verify;"
	@echo "                           last line 'N passed, M failed', the 5 slowest before it"
	@echo "  make check               quick: build, unit tests, a boot per NMI strategy, docs checks"
	@echo "  make check-docs          the paths, targets, commands and symbols the docs name exist"
	@echo "  make check-source        the kernel proper: line length, ternaries, includes of tests/"
	@echo "  make verify              an NMI at every instruction boundary of the NMI path; the NMI_BREAK kernels"
	@echo "                           (draws build/pictures/verify-*.svg)"
	@echo "  make bench               boot-to-ready times, NMI and exception paths (instructions),"
	@echo "                           faults and NMIs per second per strategy, make test's wall time"
	@echo "  make handout LAB=N [DIR=d] a student tree for lab N in ../nmilab-lab-N, or d (docs/labs/)"
	@echo "  make grade LAB=N         run lab N's scenarios, print the score, write build/grade-lab-N.json"
	@echo "  make pictures            boot a traced nested NMI, draw nmi-trace.svg; update"
	@echo "                           docs/pictures/ (with make verify's verify-*.svg)"
	@echo "  make viewer              record a nested NMI per strategy, step by step: docs/viewer/"
	@echo "  make compile_commands.json   for clangd (uses bear)"
	@echo "  make deps                install the Debian/Ubuntu packages nmilab needs"
	@echo "  make clean               remove build/"
	@echo "Variables: CC=clang to build with clang, CMDLINE, GFXPAYLOAD=WxH (UEFI screen size), QEMU_MEMORY (default 256M),"
	@echo "  QEMU_CPUS (make run's CPUs, default 2),"
	@echo "  JOBS=N (make test, make check: scenarios at once; default the CPUs + 1),"
	@echo "  BENCH_PARTS=boot,paths,rates,test (make bench: only those parts; default all),"
	@echo "  NMI_BREAK=executing|repeat-window|iret-window|cr2-restore (leave one NMI mechanism out: docs/nmi.md);"
	@echo "  NMI_BREAK=df-test|user-stack-switch (the NMI entry before Linux's 2015 fixes:"
	@echo "  docs/nmi.md);"
	@echo "  NMI_BREAK=ret-test|ret-this-cpu (nmi=ret's exit broken: docs/nmi.md)."

clean:
	rm -rf $(BUILD) compile_commands.json

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
