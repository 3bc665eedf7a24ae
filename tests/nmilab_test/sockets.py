"""Unix sockets: QEMU's QMP, gdb stub and serial line are each one."""
import socket
import time


def copy_to_file(sock, path):
    with open(path, "ab") as out:
        try:
            while chunk := sock.recv(4096):
                out.write(chunk)
                out.flush()
        except OSError:
            pass


def connect_unix(path, deadline):
    while True:
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(path)
            return sock
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
