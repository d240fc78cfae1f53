"""Serving a WSGI app with waitress, through its documented options.

waitress documents only ``serve()``, which never returns; ddnsd must stop a server (at
exit, and on a reload that moves the listener), so it uses ``create_server`` (what
``serve()`` calls) and, to stop it safely, the worker pool's ``shutdown``
(:meth:`HttpServer.shutdown` says why): the two undocumented names ddnsd uses.

``serve(app, "127.0.0.1:9333")`` binds, runs waitress on a daemon thread and returns an
:class:`HttpServer` (``.port``, ``.url``, ``.shutdown()``). Listen addresses are read by
:func:`ddnsd.hostport.parse_listen`; ``[::]`` listens on every IPv6 and IPv4 address (dual
stack, IPv4 clients shown as ``192.0.2.1``, not ``::ffff:192.0.2.1``); port 0 picks a free
port (read it from ``.port``).

What waitress guarantees with the options set here (``serve()``'s keyword arguments):

``threads`` (16)
    Requests run on a pool; an ACME present holds its thread until every nameserver
    serves the value, so there is room for several at once while /healthz and /metrics
    still find a free thread. waitress reads requests and writes answers on one I/O
    thread: a slow client holds a socket, never a pool thread.
``connection_limit`` (100)
    At most this many connections are open at once; past it new ones wait in the
    listen backlog until some close.
``channel_timeout`` (30 s)
    A connection with no request in flight and nothing received for this long is closed.
``max_request_body`` (64 KiB, the app's ``max_body``)
    A larger body is answered ``413`` by waitress, unread.
Request line and headers over :data:`MAX_HEADERS` bytes are answered ``431``; a
malformed request ``400``. waitress logs on its own ``waitress`` logger.

There is no deadline for a whole request: a client that trickles bytes keeps its
connection (not a thread). Where the listener faces an untrusted network, put a reverse
proxy in front (README, "Security notes").
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import threading
from collections.abc import Iterable
from typing import Protocol
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from waitress.server import create_server

from ddnsd.errors import DdnsdError
from ddnsd.hostport import local_url, parse_listen

MAX_HEADERS = 65536  # bytes of request line and headers; more answers 431


#: seconds requests in flight get to finish at shutdown
SHUTDOWN_GRACE = 1


class _Dispatcher(Protocol):
    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool: ...


class _Waitress(Protocol):
    """What ddnsd uses of the server ``waitress.create_server`` returns."""

    @property
    def task_dispatcher(self) -> _Dispatcher: ...

    def run(self) -> None: ...
    def close(self) -> None: ...


class HttpServer:
    """A running server: ``.port``, ``.url``, ``.shutdown()``."""

    def __init__(self, server: _Waitress, sock: socket.socket) -> None:
        self._server = server
        self._socket = sock
        host, port = sock.getsockname()[:2]
        self.host = str(host)
        self.port = int(port)
        self._stopped = False

    @property
    def url(self) -> str:
        """Base URL to reach it locally (an unspecified address becomes loopback)."""
        return local_url(self.host, self.port)

    def shutdown(self) -> None:
        """Let requests in flight finish (up to :data:`SHUTDOWN_GRACE`), then stop listening
        (the port is free again).

        waitress documents no way to stop a server. Its ``close()`` closes the pipe its
        worker threads write to when a response is ready, so a request finishing after it
        writes to a closed descriptor, or to whatever file got that number since (the
        history, a state file). So the worker pool stops first, as waitress's own
        multi-socket server does in its ``close()``: ``task_dispatcher.shutdown``, an
        attribute waitress does not document. A request still running after the grace
        keeps that risk; it is logged by waitress as "thread(s) still running".
        """
        if self._stopped:
            return
        self._stopped = True
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=SHUTDOWN_GRACE)
        listener = self._socket.dup()
        self._server.close()  # out of waitress's loop, whose poll() may still hold it, so:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # stop listening now
        listener.close()


def serve(
    app: WSGIApplication,
    listen: str,
    *,
    threads: int = 16,
    connection_limit: int = 100,
    channel_timeout: int = 30,
    max_request_body: int = 65536,
) -> HttpServer:
    """Bind ``listen`` and serve ``app`` on a daemon thread; DdnsdError when impossible.

    ``max_request_body`` should be at least the app's ``max_body``.
    """
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise DdnsdError(f"cannot listen on {listen!r}: {exc}") from None
    sock = _listening_socket(listen, host, port)
    try:
        server = create_server(
            _unmapped(app),
            sockets=[sock],
            threads=threads,
            connection_limit=connection_limit,
            channel_timeout=channel_timeout,
            cleanup_interval=1,  # seconds between looks for idle connections
            max_request_header_size=MAX_HEADERS,
            max_request_body_size=max_request_body + 1,  # waitress refuses this size and more
            asyncore_use_poll=True,  # no select(): past 1024 open files it fails
            ident="ddnsd",
            log_socket_errors=False,
        )
    except OSError as exc:  # listen() may still fail
        sock.close()
        raise DdnsdError(f"cannot listen on {listen}: {_bind_problem(exc)}") from None
    threading.Thread(target=server.run, name="ddnsd-http", daemon=True).start()
    return HttpServer(server, sock)


def _unmapped(app: WSGIApplication) -> WSGIApplication:
    """``app`` seeing an IPv4 client of a dual-stack socket as ``192.0.2.1``."""

    def unmapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        address = str(environ.get("REMOTE_ADDR", ""))
        if address.startswith("::ffff:"):
            mapped = ipaddress.ip_address(address)
            if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None:
                environ["REMOTE_ADDR"] = str(mapped.ipv4_mapped)
        return app(environ, start_response)

    return unmapped


def _listening_socket(listen: str, host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if host == "::" else 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DdnsdError(f"cannot listen on {listen}: {_bind_problem(exc)}") from None
    return sock


def _bind_problem(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use; stop the other process or change [http] listen"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no local interface has this address; change [http] listen"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    return exc.strerror or str(exc)
