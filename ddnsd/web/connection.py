"""How one connection is read and answered: waitress's channel, parser and tasks, adjusted.

The server answers what never reaches the app with a status line and one line of
text: 400 for a malformed request line or header, or one without ``HTTP/1.0`` or
``HTTP/1.1``; 414 for a request line over 64 KiB; 431 for headers over the server's
limit. A body of ``max_request_body_size`` or more (waitress's adjustment), or a
chunked one, is not read: the app answers from the headers alone (401, 411, 413, …)
and the connection closes afterwards; with ``Expect: 100-continue`` the client gets
that answer before it sends the body. A client that stops sending mid-request gets an
answer for what it sent: with the header block complete the app answers (400, the body
ended early), else 400.

After the last answer on a connection the server stops sending and drops what the
client still sends (at most 1 MiB or 1 s) before closing, so a client still uploading
sees an early answer (401, 413) instead of a reset.

Past the connection limit (server.py) a connection is an :class:`OverflowChannel`: one
request, whose head must arrive within :data:`OVERFLOW_WAIT`; ``GET``/``HEAD`` of
``/healthz`` and ``/readyz`` are served (health checks keep working while slow clients
hold every slot), anything else is answered ``503`` with ``Retry-After``. One that sends
nothing in time gets the 503 then; so does the longest-waiting one when as many are
open as the limit and another arrives (so a health check always gets in). Only when
every such connection has a request in progress is a newcomer refused unread
(:func:`refuse`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any, cast

from waitress.adjustments import Adjustments
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import BadRequest

from ddnsd.web.http import TEXT

log = logging.getLogger(__name__)

MAX_REQUEST_LINE = 65536  # bytes; longer answers 414
OVERFLOW_WAIT = 2.0  # seconds a connection past the limit has to send its request head
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
BUSY = "too many connections; try again in a moment"
DRAIN_LIMIT = 1 << 20  # bytes read and dropped before closing
DRAIN_TIMEOUT = 1.0  # seconds spent at most on that


class _UriTooLong(BadRequest):
    code = 414
    reason = "URI Too Long"


class _Unavailable(BadRequest):
    code = 503
    reason = "Service Unavailable"


class _Parser(HTTPRequestParser):
    """waitress's request parser, stricter on the request line and lazy about big bodies."""

    unread_rest = False  # what follows on the connection is not read: close after answering

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.began = time.monotonic()

    def received(self, data: bytes) -> int:
        if not self.headers_finished and _line_too_long(self.header_plus + data):
            self.error = _UriTooLong(f"the request line is longer than {MAX_REQUEST_LINE} bytes")
            self.completed = self.unread_rest = True
            return len(data)
        consumed = super().received(data)
        if self.error is not None:
            self.unread_rest = True
        return len(data) if self.unread_rest else consumed

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.version not in ("1.0", "1.1"):
            what = f"HTTP/{self.version}" if self.version else "no HTTP version"
            raise ParsingError(f"the request line has {what}; send HTTP/1.1")
        headers = cast(dict[str, str], self.headers)
        if self.chunked:
            headers["TRANSFER_ENCODING"] = "chunked"  # waitress took it out; the app answers 411
        chunked = "chunked" in headers.get("TRANSFER_ENCODING", "").lower()
        if chunked or self.content_length >= self.adj.max_request_body_size:
            self.body_rcv = None  # not read: the app answers from the headers alone
            self.chunked = False
            self.content_length = 0
            self.expect_continue = False  # so the client waits for that answer
            self.unread_rest = True


def _line_too_long(head: bytes) -> bool:
    head = head.lstrip(b"\r\n")
    end = head.find(b"\n")
    return (end if end >= 0 else len(head)) > MAX_REQUEST_LINE


class _OverflowParser(_Parser):
    """A request past the connection limit: a health check is served, the rest get 503.

    Either way it is the connection's only request."""

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if not self.headers_finished or self.unread_rest:
            return consumed
        self.unread_rest = True
        method, path = cast(str, self.command), str(getattr(self, "path", ""))  # stubs: bytes
        if self.error is None and (method not in ("GET", "HEAD") or path not in HEALTH_PATHS):
            self.error = _Unavailable(BUSY)
            self.completed = True
        return len(data)


def _answer_bytes(code: int, reason: str, text: str) -> bytes:
    body = f"{text}\n".encode()
    head = (
        f"HTTP/1.0 {code} {reason}\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
        f"Content-Type: {TEXT}\r\nCache-Control: no-store\r\nRetry-After: 1\r\n\r\n"
    )
    return head.encode() + body


_REFUSAL = _answer_bytes(503, "Service Unavailable", BUSY)


def refuse(sock: socket.socket) -> None:
    """Answer 503 on a just-accepted connection without reading its request, and close it."""
    try:
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # unread bytes would make the close a reset
            sock.recv(65536)
        sock.send(_REFUSAL)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        sock.close()


class _Task(WSGITask):
    def execute(self) -> None:
        if cast(_Parser, self.request).unread_rest:
            self.set_close_on_finish()
        super().execute()


class _ErrorTask(ErrorTask):
    """What the server answers itself, in the app's style: status line, one line of text."""

    def execute(self) -> None:
        error = cast(_Parser, self.request).error
        assert error is not None
        body = f"{error.body}\n".encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers = [
            *self.response_headers,
            ("Content-Type", TEXT),
            ("Cache-Control", "no-store"),
            *([("Retry-After", "1")] if error.code == 503 else []),
        ]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        log.debug("%s: %d %r", self.channel.addr[0], error.code, error.body)


class Channel(HTTPChannel):
    """One connection: waitress's, with a graceful close and an answer at a client's EOF."""

    parser_class = _Parser
    task_class = _Task
    error_task_class = _ErrorTask
    logger = log
    linger_until: float | None = None  # set once the answer is out and sending stopped
    drained = 0

    def readable(self) -> bool:
        return self.linger_until is not None or bool(super().readable())

    def writable(self) -> bool:
        if self.linger_until is not None:
            return self.will_close  # set by the server when the linger is over
        return bool(super().writable())

    def handle_write(self) -> None:
        if self.linger_until is not None:
            self.close_now()
        else:
            super().handle_write()

    def handle_read(self) -> None:
        assert self.socket is not None
        try:
            data = self.socket.recv(self.adj.recv_bytes)
        except BlockingIOError:
            return
        except OSError:  # reset by the client
            self.close_now()
            return
        if self.linger_until is not None:
            self.drained += len(data)
            if not data or self.drained >= DRAIN_LIMIT or time.monotonic() >= self.linger_until:
                self.close_now()
        elif data:
            self.last_activity = time.time()
            self.received(data)
        else:
            self._client_done()

    def _client_done(self) -> None:
        """The client sent all it will: answer the request it left unfinished, or close."""
        lock: threading.Lock = self.requests_lock  # type: ignore[attr-defined]  # not in the stubs
        with lock:
            partial = cast(_Parser | None, self.request)
            self.request = None
            if partial is None or not (partial.headers_finished or partial.header_plus.strip()):
                partial = None
            else:
                if not partial.headers_finished:
                    partial.error = BadRequest("the request ended inside its header block")
                partial.completed = partial.unread_rest = True
                cast(list[_Parser], self.requests).append(partial)
        if partial is None:
            self.close_now()
        else:
            self.server.add_task(self)  # type: ignore[arg-type]  # a channel is waitress's task

    def handle_close(self) -> None:
        """Stop sending and linger, reading what the client still sends; then close."""
        if self.linger_until is None and self.socket is not None:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            else:
                self.linger_until = time.monotonic() + DRAIN_TIMEOUT
                self.will_close = self.close_when_flushed = False
                return
        self.close_now()

    def close_now(self) -> None:
        super().handle_close()

    def overdue(self, now: float, limit: float) -> bool:
        """True when a request has been arriving for more than ``limit`` seconds."""
        partial = cast(_Parser | None, self.request)
        return not self.requests and partial is not None and now - partial.began > limit


class OverflowChannel(Channel):
    """A connection past the limit: one request, a health check or a 503 (see the top)."""

    parser_class = _OverflowParser
    refused = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = time.monotonic() + OVERFLOW_WAIT

    @property
    def waiting(self) -> bool:
        """No whole request yet (and not refused): it may be refused to make room."""
        return not self.refused and not self.requests and self.linger_until is None

    def refuse(self) -> None:
        """Answer 503 now, dropping whatever part of a request arrived, and close."""
        lock: threading.Lock = self.requests_lock  # type: ignore[attr-defined]  # not in the stubs
        with lock:
            self.refused = True
            self.request = None
            try:
                self.write_soon(_REFUSAL)
            except ClientDisconnected:
                self.will_close = True
                return
            self.close_when_flushed = True
