"""nmilab's test harness: how a scenario boots, what it must show, and the catalogue.

    paths.py         where the tree, build/ and the kernel are
    scenario.py      class Scenario: one boot and what it must show
    iso.py           the test ISOs, built once per command line and cached by content
    qemu.py          QEMU's binary, exit statuses, firmware (BIOS, UEFI, USB stick)
    bochs.py         Bochs' configuration, and its outcome read from its log
    sockets.py       Unix sockets: connecting, copying a serial line to a file
    qmp.py           QEMU's machine protocol (inject-nmi, send-key, screendump)
    gdbstub.py       a small client of QEMU's gdb stub (breakpoints, steps, memory)
    kernel_image.py  build/kernel.elf's symbols and instructions (nm, objdump)
    judge.py         reading serial logs and TAP, deciding pass or fail, keeping logs
    runner.py        run_scenario: one boot, driven and judged
    actions.py       what a runner does during a boot: NMIs at an instruction, typing, keys
    screen.py        reading the screen back: VGA text, framebuffer pixels with the kernel's font
    tree.py          copies of this tree: a lab handout, an NMI_BREAK kernel's build
    historical.py    the NMI_BREAK kernels of the 2015 bugs, each failing its scenario
    labs.py          the labs: their scenarios, grading, and make test's checks of them
    viewer.py        make test's checks of docs/viewer/: recorded again, in a browser, handouts
    scenarios/       the catalogue, one module per area

tests/run.py is the command line; tests/verify.py, bench.py, fuzz_shell.py, model_check.py,
tools/labs.py and tools/pictures.py use this package.
"""
