"""A DNS server on one loopback port (UDP and TCP) that sends what a test's function
returns for each query's bytes: raw bytes, so a test can send malformed answers too."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator

#: The bytes (the datagrams over UDP) a server sends for one query's bytes.
Reply = Callable[[bytes], list[bytes]]


class Server:
    """UDP and TCP on one loopback port, each answering with its own ``Reply``."""

    def __init__(self, udp: Reply, tcp: Reply | None = None) -> None:
        while True:
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(4)
        self.on_udp, self.on_tcp = udp, tcp or udp
        for serve in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=serve, daemon=True).start()

    def _serve_udp(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                wire, peer = self.udp.recvfrom(4096)
                if not wire:  # shut down
                    return
                for datagram in self.on_udp(wire):
                    self.udp.sendto(datagram, peer)

    def _serve_tcp(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.tcp.accept()
                with conn, conn.makefile("rb") as reader:
                    wire = reader.read(struct.unpack("!H", reader.read(2))[0])
                    out = b"".join(self.on_tcp(wire))
                    conn.sendall(struct.pack("!H", len(out)) + out)

    def close(self) -> None:
        for sock in (self.udp, self.tcp):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@contextlib.contextmanager
def serving(udp: Reply, tcp: Reply | None = None) -> Iterator[Server]:
    """A ``Server`` for the block; ``tcp`` (default: as ``udp``) answers over TCP."""
    server = Server(udp, tcp)
    try:
        yield server
    finally:
        server.close()
