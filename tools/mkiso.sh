#!/bin/sh
# mkiso.sh KERNEL OUTPUT.iso [CMDLINE] [TIMEOUT]
# Builds the hybrid BIOS + UEFI ISO (also bootable from a USB stick) with grub-mkrescue. The
# kernel command line goes on the default menu entry of the top-level grub.cfg.
set -eu
kernel=$1 output=$2 cmdline=${3-} timeout=${4-3}
# GRUB hands the kernel ' " and \ with a backslash added before each (it quotes the line it
# builds): refuse them rather than let the kernel see something else than was asked for.
case "$cmdline" in
*"'"*|*'"'*|*'\'*) printf 'mkiso: the kernel command line may not contain %s (GRUB would add backslashes): %s\n' "' \" or \\" "$cmdline" >&2; exit 1;;
*"
"*) echo "mkiso: the kernel command line must be one line" >&2; exit 1;;
esac
# In GRUB's double-quoted string $ is special: escape it. & | and spaces are taken literally.
grub_quoted=$(printf '%s' "$cmdline" | sed -e 's/[$]/\\&/g')
top=$(cd "$(dirname "$0")/.." && pwd)
staging=$(mktemp -d "${TMPDIR:-/tmp}/nmilab-iso.XXXXXX")
log=$(mktemp "${TMPDIR:-/tmp}/nmilab-iso-log.XXXXXX")
trap 'rm -rf "$staging" "$log"' EXIT
mkdir -p "$staging/boot/grub"
cp "$kernel" "$staging/boot/kernel.elf"
# Rewritten line by line in the shell, not with sed: the command line may hold sed's & and |.
while IFS= read -r line; do
    case "$line" in
    "set nmilab_cmdline="*) printf 'set nmilab_cmdline="%s"\n' "$grub_quoted" ;;
    "set timeout="*) printf 'set timeout=%s\n' "$timeout" ;;
    *) printf '%s\n' "$line" ;;
    esac
done < "$top/grub.cfg" > "$staging/boot/grub/grub.cfg"
grub-mkrescue -o "$output" "$staging" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
