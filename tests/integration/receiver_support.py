"""A local HTTP(S) receiver for notifications (Apprise ``json://``), heartbeat pings and
address-source requests."""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every request on 127.0.0.1 and answers ``answer``; ``hang=True`` holds each
    one until ``close()``; ``tls`` (certificate, key): HTTPS (:attr:`url` says which)."""

    def __init__(
        self, *, hang: bool = False, answer: bytes = b"OK", tls: tuple[Path, Path] | None = None
    ) -> None:
        self.received: list[Received] = []
        self.release = threading.Event()
        self.arrived = threading.Event()
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with lock:
                    receiver.received.append(Received(self.command, self.path, body))
                receiver.arrived.set()
                if hang:
                    receiver.release.wait(120)
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    def titles(self) -> list[str]:
        """The titles of the Apprise json:// messages received."""
        return [str(r.json()["title"]) for r in list(self.received) if r.method == "POST"]

    def paths(self) -> list[str]:
        return [r.path for r in list(self.received)]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
