"""Patterns that several scenarios look for in the serial log."""

# A panic's backtrace (at least two frames) and its register dump.
BACKTRACE = r"backtrace:\n\s+#0\s+[0-9a-f]{16} \w+\+0x[0-9a-f]+\n\s+#1\s+[0-9a-f]{16} \w+\+0x"
REGISTERS = r"RAX [0-9a-f]{16}.*\n(.*\n){4}\s+RIP [0-9a-f]{16}\s+RSP [0-9a-f]{16}"
# What nmi=naive's check reports when a nested NMI has overwritten the outer NMI's frame.
OVERWRITE = (
    r"NMI frame overwritten by nested NMI: the NMI at depth 0 expected RIP [0-9a-f]{16} RSP "
    r"[0-9a-f]{16}, "
    r"found RIP [0-9a-f]{16} RSP [0-9a-f]{16}"
)
