#!/bin/sh
# Writes a C symbol table (struct kernel_symbol, see include/kernel/stacktrace.h) for the text
# symbols of the ELF file $1, sorted by address, so the kernel can name functions in backtraces.
# With no argument it writes an empty table, for the first link. The marks linker.ld sets
# (noprobe_start, ...) are left out where a function starts at the same address: a backtrace
# names the function.
set -eu
echo '#include <kernel/stacktrace.h>'
echo 'const struct kernel_symbol kernel_symbols[] = {'
if [ $# -gt 0 ]; then
    marks=$(sed -n 's/^ *\([a-z_]*\) = \. *;.*/\1/p' "$(dirname "$0")/../linker.ld" | tr '\n' ' ')
    nm -n "$1" | awk -v marks=" $marks" '
        function mark(symbol) { return index(marks, " " symbol " ") != 0 }
        BEGIN { n = 0; count = 0 }
        $2 ~ /^[tT]$/ && $3 !~ /^\./ { address[n] = $1; name[n++] = $3; functions[$1] += !mark($3) }
        END {
            for (i = 0; i < n; i++)
                if (!mark(name[i]) || !functions[address[i]]) { printf "    {0x%sUL, \"%s\"},\n", address[i], name[i]; count++ }
            print "    {0, \"\"}, /* never empty */"
            print "};"
            printf "const unsigned long kernel_symbol_count = %d;\n", count
        }'
else
    echo '    {0, ""}, /* never empty */'
    echo '};'
    echo 'const unsigned long kernel_symbol_count = 0;'
fi
