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
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import cast

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import BadRequest

from ddnsd.web.http import TEXT

log = logging.getLogger(__name__)

MAX_REQUEST_LINE = 65536  # bytes; longer answers 414
DRAIN_LIMIT = 1 << 20  # bytes read and dropped before closing
DRAIN_TIMEOUT = 1.0  # seconds spent at most on that


class _UriTooLong(BadRequest):
    code = 414
    reason = "URI Too Long"


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
