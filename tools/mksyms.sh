#!/bin/sh
# Writes a C symbol table (struct kernel_symbol, see include/kernel/stacktrace.h) for the text
# symbols of the ELF file $1, sorted by address, so the kernel can name functions in backtraces.
# With no argument it writes an empty table, for the first link.
set -eu
echo '#include <kernel/stacktrace.h>'
echo 'const struct kernel_symbol kernel_symbols[] = {'
count=0
if [ $# -gt 0 ]; then
    nm -n "$1" | awk '$2 ~ /^[tT]$/ && $3 !~ /^\./ { printf "    {0x%sUL, \"%s\"},\n", $1, $3 }'
    count=$(nm -n "$1" | awk '$2 ~ /^[tT]$/ && $3 !~ /^\./' | wc -l)
fi
echo '    {0, ""}, /* never empty */'
echo '};'
echo "const unsigned long kernel_symbol_count = $count;"
