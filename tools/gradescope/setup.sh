#!/bin/sh
# Gradescope's setup.sh: run once, as root, when the autograder image is built. The autograder zip
# is a lab handout (docs/labs/README.md, "Gradescope"), unpacked in /autograder/source; this
# installs what make grade needs, and builds once so that each submission builds only its files.
set -eu
cd /autograder/source
apt-get update -qq
tools/deps.sh
make -s build/kernel.elf
