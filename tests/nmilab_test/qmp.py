"""QMP, QEMU's machine protocol."""
import json
import time

from .sockets import connect_unix


class Qmp:
    """QEMU's machine protocol, for what a person would do from outside (inject an NMI)."""

    def __init__(self, path, deadline):
        self.sock = connect_unix(path, deadline)
        self.sock.settimeout(max(1.0, deadline - time.time()))
        self.file = self.sock.makefile("rw")
        self.file.readline()  # greeting
        self.command("qmp_capabilities")

    def command(self, name, **arguments):
        self.file.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "return" in reply or "error" in reply:
                return reply
