#!/bin/sh
# mkiso.sh KERNEL OUTPUT.iso [CMDLINE] [TIMEOUT]
# Builds the hybrid BIOS + UEFI ISO (also bootable from a USB stick) with grub-mkrescue. The
# kernel command line goes on the default menu entry of the top-level grub.cfg.
set -eu
kernel=$1 output=$2 cmdline=${3-} timeout=${4-3}
case "$cmdline" in *'"'*|*'\'*) echo "mkiso: the command line may not contain quotes or backslashes" >&2; exit 1;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
staging=$(mktemp -d "${TMPDIR:-/tmp}/nmilab-iso.XXXXXX")
log=$(mktemp "${TMPDIR:-/tmp}/nmilab-iso-log.XXXXXX")
trap 'rm -rf "$staging" "$log"' EXIT
mkdir -p "$staging/boot/grub"
cp "$kernel" "$staging/boot/kernel.elf"
sed -e "s|^set nmilab_cmdline=.*|set nmilab_cmdline=\"$cmdline\"|" \
    -e "s|^set timeout=.*|set timeout=$timeout|" "$top/grub.cfg" > "$staging/boot/grub/grub.cfg"
grub-mkrescue -o "$output" "$staging" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
