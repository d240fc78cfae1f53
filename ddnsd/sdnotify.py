"""systemd notify protocol: a datagram to ``$NOTIFY_SOCKET``; no libsystemd needed.

``READY=1`` after the first round, ``STATUS=…`` lines, ``WATCHDOG=1`` every half
``WATCHDOG_USEC`` while the main loop is alive, ``STOPPING=1`` / ``RELOADING=1``.
Without ``NOTIFY_SOCKET`` every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, socket_path: str | None, watchdog_usec: str | None = None) -> None:
        self._addr: str | None = None
        if socket_path:
            # "@name" is an abstract socket.
            self._addr = "\0" + socket_path[1:] if socket_path.startswith("@") else socket_path
        self.watchdog_interval: float | None = None
        if watchdog_usec and watchdog_usec.isdigit() and int(watchdog_usec) > 0:
            self.watchdog_interval = int(watchdog_usec) / 1e6 / 2
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send(self, *fields: str) -> None:
        if self._addr is None:
            return
        msg = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(self._addr)
                s.sendall(msg)
        except OSError as exc:
            log.debug("sd_notify to %s failed: %s", self._addr, exc)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def start_watchdog(self, alive: Callable[[], bool]) -> None:
        """Ping WATCHDOG=1 at half the interval systemd asked for, while ``alive()``."""
        if self._addr is None or self.watchdog_interval is None:
            return
        interval = self.watchdog_interval

        def loop() -> None:
            while not self._stop.wait(interval):
                if alive():
                    self.send("WATCHDOG=1")

        self.send("WATCHDOG=1")
        self._thread = threading.Thread(target=loop, name="sd-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
