"""The emulator's HTTP plumbing: parse a request, hand it to ``respond``, send its answer.

What an endpoint sees is an :class:`ApiRequest`; what it gives back is an :class:`ApiAnswer`, or it
raises :class:`Reply` (see :func:`error`) to stop early. Nothing here knows TransIP: the
``/v6`` gate is ``api.py``, the control endpoints ``control.py``; ``server.py`` joins them.
Bodies are JSON (``Content-Type: application/json``); ``HEAD`` gets the headers only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class ApiRequest:
    """One request as the endpoints see it (``query``: the last value of each parameter)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message[str, str]  # case-insensitive ``get``
    body: bytes
    started: float  # time.monotonic() when the handler took it

    def json(self) -> Any:
        """The body as JSON (``{}`` when empty); 422 when it does not parse."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise error(422, f"The request body is not valid JSON: {exc}") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; 422 for any other JSON value."""
        body = self.json()
        if not isinstance(body, dict):
            raise error(422, "The request body must be a JSON object")
        return body


@dataclass
class ApiAnswer:
    """What to send: ``status``, a JSON ``body`` (None: empty) and extra headers.

    ``lost``: close the connection without any answer (the fault "lost").
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    lost: bool = False


class Reply(Exception):
    """Short-circuit a request with ``status``, a JSON body and headers to add or replace."""

    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def error(status: int, message: str) -> Reply:
    """TransIP's error shape: ``{"error": message}``."""
    return Reply(status, {"error": message})


def number(value: object, what: str, low: float, high: float) -> float:
    """``value`` as a finite number within ``low``..``high``; else a 406 naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise error(406, f"{what} must be a number from {low:g} to {high:g}")
    return float(value)  # NaN fails the range check above


Respond = Callable[[ApiRequest], ApiAnswer]


class Server(ThreadingHTTPServer):
    """A threading HTTP(S) server that answers every request through ``respond``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(
        self, host: str, port: int, respond: Respond, tls: ssl.SSLContext | None = None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.respond = respond
        self.tls = tls
        super().__init__((host, port), Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away before its answer (a killed hook) is one line, not a
        traceback; anything else is logged with its traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.info("emulator: %s went away before its answer (%s)", client_address[0], exc)
        else:
            log.exception("emulator: request from %s failed", client_address[0])

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:  # handshake in the request thread, not the accept loop
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                log.info("emulator TLS handshake failed from %s: %s", client_address[0], exc)
                return
        super().finish_request(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; without TCP_NODELAY the body waits for
    # the client's delayed ACK of the headers (~40 ms per keep-alive response).
    disable_nagle_algorithm = True
    server_version = "ddnsd-emulator"
    timeout = 60

    def version_string(self) -> str:
        return self.server_version

    # silence http.server's own stderr logging; the endpoints log one line per request
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = ApiRequest(
            method=self.command,
            path=url.path,
            query={k: v[-1] for k, v in parse_qs(url.query).items()},
            headers=self.headers,
            body=self.rfile.read(length) if length > 0 else b"",
            started=started,
        )
        answer = cast(Server, self.server).respond(request)
        if answer.lost:
            self._drop()
        else:
            self._send(answer)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, answer: ApiAnswer) -> None:
        data = b"" if answer.body is None else json.dumps(answer.body).encode("utf-8")
        self.send_response(answer.status)
        if answer.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in answer.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop(self) -> None:
        """Close the connection without any answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.connection.close()
