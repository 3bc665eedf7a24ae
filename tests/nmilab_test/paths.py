"""Where things are: the tree, its build directory, the kernel the tests boot."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
LOGS = os.path.join(BUILD, "test-logs")  # the serial logs of failed scenarios
ISOS = os.path.join(BUILD, "test-isos")  # the ISO cache (iso.py)
PICTURES = os.path.join(BUILD, "pictures")  # what make verify and make pictures draw
KERNEL = os.path.join(BUILD, "kernel.elf")
