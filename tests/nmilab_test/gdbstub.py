"""A client of QEMU's gdb stub."""
import socket
import time

from .sockets import connect_unix

GPRS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] + [f"r{n}" for n in range(8, 16)]


class Gdb:
    """A minimal client for QEMU's gdb stub: breakpoints that the guest cannot see, one step,
    one memory write. It stands in for a hardware debugger that stops the CPU at an exact
    instruction, so that an NMI injected from outside lands exactly there."""

    def __init__(self, path, deadline):
        self.sock = connect_unix(path, deadline)
        self.buffer = b""
        # QEMU stops the CPU when a debugger connects and may announce that with a stop packet
        # of its own: ask once, then throw away whatever came before the answer settles.
        self.command("?", wait_reply=False)
        self.sock.settimeout(0.3)
        try:
            while self.sock.recv(4096):
                pass
        except socket.timeout:
            pass
        self.sock.settimeout(max(1.0, deadline - time.time()))

    def _byte(self):
        if not self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("gdb stub closed the connection")
            self.buffer = chunk
        b, self.buffer = self.buffer[:1], self.buffer[1:]
        return b

    def _reply(self):
        while self._byte() != b"$":
            pass
        data = b""
        while (c := self._byte()) != b"#":
            data += c
        self._byte(), self._byte()  # checksum
        self.sock.sendall(b"+")
        return data.decode()

    def command(self, text, wait_reply=True):
        packet = text.encode()
        self.sock.sendall(b"$" + packet + b"#%02x" % (sum(packet) % 256))
        return self._reply() if wait_reply else None

    # Registers by gdb's x86-64 numbering; values travel as little-endian hex.
    RSP, RIP, RFLAGS = 7, 16, 17

    def register(self, number):
        """From 'g' (all registers): 8 bytes each for the 16 general registers and RIP, then the
        32-bit RFLAGS."""
        size = 4 if number == self.RFLAGS else 8
        return int.from_bytes(
            bytes.fromhex(self.command("g")[number * 16 : number * 16 + size * 2]), "little"
        )

    def set_rflags(self, value):
        """Through 'G' (all registers): QEMU's stub does not write single registers. RFLAGS is the
        32-bit field after the 16 general registers and RIP."""
        registers = self.command("g")
        at = 17 * 8 * 2
        registers = registers[:at] + value.to_bytes(4, "little").hex() + registers[at + 8 :]
        if self.command("G" + registers) != "OK":
            raise RuntimeError("the gdb stub refused to write the registers")

    def step(self):
        """One instruction, for certain. Under load QEMU's stub now and then answers a step having
        run nothing (RIP unchanged: nmi-repeat-window-end once took its NMI an instruction early,
        failing a correct kernel). For code with no string instruction and no jump to itself,
        where every instruction moves RIP: the NMI windows and exit paths stepped here."""
        before = self.register(self.RIP)
        for _ in range(4):
            self.command("s")
            if self.register(self.RIP) != before:
                return
        raise RuntimeError(f"four steps from {before:#x} did not move the CPU")

    def read64(self, address):
        return int.from_bytes(bytes.fromhex(self.command(f"m{address:x},8")), "little")


def registers(gdb):
    """The registers QEMU's 'g' packet gives, by name: 16 general registers and rip (8 bytes
    each), eflags, cs, ss, ds, es, fs, gs (4 bytes each), fs_base, gs_base, kernel_gs_base, then
    cr0, cr2, ... (8 bytes each)."""
    raw = bytes.fromhex(gdb.command("g"))
    value = lambda offset, size: int.from_bytes(raw[offset : offset + size], "little")
    out = {name: value(8 * i, 8) for i, name in enumerate(GPRS)}
    out.update(
        rip=value(128, 8),
        rflags=value(136, 4),
        cs=value(140, 4),
        ss=value(144, 4),
        cr2=value(196, 8),
    )
    return out
