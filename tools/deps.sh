#!/bin/sh
# deps.sh: makes sure the Debian/Ubuntu packages that building, running and testing nmilab need
# are installed. Installs what is missing with apt-get when root or through sudo without a
# password; otherwise stops with one line naming the packages.
set -eu
missing=""
need() { # need PACKAGE TEST...: PACKAGE is missing unless the test succeeds
    package=$1; shift
    if ! "$@" >/dev/null 2>&1; then missing="$missing $package"; fi
}
need make command -v make
need gcc command -v gcc
need libc6-dev test -e /usr/include/stdio.h  # the host unit tests; gcc only recommends it
need binutils command -v ld
need nasm command -v nasm
need grub-common command -v grub-mkrescue
need grub-pc-bin test -d /usr/lib/grub/i386-pc
need grub-efi-amd64-bin test -d /usr/lib/grub/x86_64-efi
need xorriso command -v xorriso
need mtools command -v mformat
need qemu-system-x86 command -v qemu-system-x86_64
need ovmf sh -c 'ls /usr/share/OVMF/OVMF_CODE*.fd || ls /usr/share/ovmf/OVMF.fd'
need python3 command -v python3
need python3-unicorn /usr/bin/python3 -c 'import unicorn'  # make verify's model checker
need patch command -v patch                       # the labs' known wrong solutions (tests/labs/)
need bochs command -v bochs                       # the second emulator of make test (x2APIC CPUs)
need bochsbios test -e /usr/share/bochs/BIOS-bochs-latest
need vgabios test -e /usr/share/vgabios/vgabios.bin
# make test opens the NMI viewer's pages (docs/viewer/) in a headless browser
need chromium command -v chromium
need chromium-driver command -v chromedriver
need python3-selenium /usr/bin/python3 -c 'import selenium'
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "nmilab: missing packages:$missing (install them with: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "nmilab: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >&2
