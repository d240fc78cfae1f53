"""Serving the ddnsd WSGI app with waitress.

``serve(app, "127.0.0.1:9333")`` binds, runs waitress on a daemon thread and returns an
:class:`HttpServer`. Listen addresses: ``HOST:PORT`` or ``[IPV6]:PORT``; ``0.0.0.0``
means every IPv4 address, ``[::]`` every IPv6 and IPv4 address (dual stack, IPv4
clients shown as ``192.0.2.1``, not ``::ffff:192.0.2.1``); port 0 picks a free port
(read it from ``.port``).

Sizing (``serve()``'s keyword arguments):

``threads`` (16)
    Requests run on a pool; an ACME present holds its thread until every nameserver
    serves the value (up to the propagation timeout), so there is room for several at
    once while /healthz and /metrics still find a free thread. Requests are read and
    answers written by the one I/O thread: a slow client never holds a pool thread.
``connection_limit`` (100)
    Past it a connection is still accepted, never left waiting in the backlog: it may
    send one request within 2 s; a health check (``/healthz``, ``/readyz``) is served,
    anything else is answered ``503 Service Unavailable`` with ``Retry-After: 1``. At
    most as many such connections wait at once; a newer one makes the oldest get its
    503 (:mod:`ddnsd.web.connection`).
``request_timeout`` (15 s)
    A request (line, headers and body) must be whole within this time of its first
    byte, or the connection is closed: a client that trickles bytes cannot keep it.
``channel_timeout`` (30 s)
    A connection with no request in flight is closed after this much silence.
``max_request_body`` (64 KiB, the app's ``max_body``)
    A larger body (by Content-Length) or a chunked one is not read: the app answers
    from the headers alone (401, 411, 413, …) and the connection closes afterwards.

What the server answers itself, and how it closes connections: :mod:`ddnsd.web.connection`.
waitress's own log goes to ``ddnsd.web.server`` and ``ddnsd.web.connection``
(children of ``ddnsd.web``): what the server answers itself at DEBUG, one line each;
no traceback for a connection a client dropped or let time out.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
import time
from typing import Any, cast
from wsgiref.types import WSGIApplication

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.server import TcpWSGIServer

from ddnsd.errors import DdnsdError
from ddnsd.web.connection import Channel, OverflowChannel, refuse

log = logging.getLogger(__name__)

MAX_HEADERS = 131072  # bytes of request line and headers; more answers 431
SHUTDOWN_GRACE = 1  # seconds requests in flight get at shutdown


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9333"`` → ("127.0.0.1", 9333); ``"[::]:0"`` → ("::", 0); else ValueError."""
    text = listen.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"listen address {listen!r} must look like [::1]:9333")
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(
                f"listen address {listen!r} must look like 127.0.0.1:9333 or [::1]:9333"
            )
    if not host:
        raise ValueError(f"listen address {listen!r} has no host; use 0.0.0.0:PORT for all")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address {listen!r} has no valid port (0-65535)")
    return host, int(port)


def _unmap(address: str) -> str:
    """``"::ffff:192.0.2.1"`` (IPv4 client on a dual-stack socket) → ``"192.0.2.1"``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return address


class _Server(TcpWSGIServer):
    channel_class = Channel
    logger = log

    def __init__(
        self, app: WSGIApplication, sock: socket.socket, adj: Adjustments, request_timeout: float
    ) -> None:
        self.request_timeout = request_timeout
        self.socket_map: dict[int, Any] = {}  # waitress's _map: the listener and connections
        sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
        super().__init__(
            app, map=self.socket_map, _sock=sock, adj=adj, sockinfo=sockinfo, bind_socket=False
        )
        self.task_dispatcher.logger = self.task_dispatcher.queue_logger = log

    def fix_addr(self, addr: Any) -> Any:
        return (_unmap(str(addr[0])), *addr[1:])

    def _channels(self) -> list[Channel]:
        return list(cast(dict[int, Channel], self.active_channels).values())

    def readable(self) -> bool:
        """Run maintenance when due; always accept (see handle_accept past the limit)."""
        now = time.time()
        if now >= self.next_channel_cleanup:
            self.next_channel_cleanup = int(now + self.adj.cleanup_interval)
            self.maintenance(now)
        return bool(self.accepting)

    def handle_accept(self) -> None:
        """A connection: served up to the limit, then an overflow channel, then refused."""
        try:
            accepted = self.accept()
        except OSError:  # the client gave up before we got to it
            return
        if accepted is None:
            return
        conn, addr = accepted
        channels = self._channels()
        overflow = [c for c in channels if isinstance(c, OverflowChannel) and not c.refused]
        waiting = [c for c in overflow if c.waiting]
        limit = self.adj.connection_limit
        if len(channels) - sum(isinstance(c, OverflowChannel) for c in channels) < limit:
            Channel(self, conn, self.fix_addr(addr), self.adj, map=self.socket_map)
            return
        if not self.in_connection_overflow:
            self.in_connection_overflow = True
            log.warning(
                "%d connections open (the limit): new ones get 503, health checks are "
                "still answered, until some close",
                limit,
            )
        if len(waiting) >= limit:
            min(waiting, key=lambda c: c.deadline).refuse()  # room for the newcomer
        if len(waiting) >= limit or len(overflow) < limit:
            OverflowChannel(self, conn, self.fix_addr(addr), self.adj, map=self.socket_map)
        else:
            refuse(conn)  # every overflow connection is being answered

    def maintenance(self, now: float) -> None:
        """Mark for closing: idle connections (waitress), overdue requests, ended lingers."""
        super().maintenance(int(now))  # int: the stubs' type; a second does not matter here
        mono = time.monotonic()
        channels = self._channels()
        if self.in_connection_overflow and len(channels) < self.adj.connection_limit:
            self.in_connection_overflow = False
            log.info("fewer than %d connections open again", self.adj.connection_limit)
        for channel in channels:
            if channel.linger_until is not None:
                channel.will_close = channel.will_close or mono >= channel.linger_until
            elif isinstance(channel, OverflowChannel) and channel.waiting:
                if mono >= channel.deadline:
                    channel.refuse()
            elif channel.overdue(mono, self.request_timeout):
                log.debug(
                    "%s: no whole request within %g s; closing",
                    channel.addr[0],
                    self.request_timeout,
                )
                channel.will_close = True

    def stop(self) -> None:
        """On the I/O thread: close every connection and the listener; the loop then ends.

        The trigger's pipe leaves the loop but stays open (:meth:`HttpServer.shutdown`
        closes it later): a ``pull_trigger`` racing with this must not write to a
        closed, perhaps already reused, file descriptor.
        """
        for channel in list(cast(dict[int, Channel], self.active_channels).values()):
            channel.close_now()
        trigger: Any = self.trigger  # the stubs call it an int
        trigger.del_channel()
        wasyncore.dispatcher.close(self)  # not self.close(): that closes the trigger too


class HttpServer:
    """A running server: ``.port``, ``.url``, ``.shutdown()``."""

    def __init__(self, server: _Server, thread: threading.Thread, host: str, port: int) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self._stopped = False

    @property
    def url(self) -> str:
        """Base URL to reach it locally (an unspecified address becomes loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def shutdown(self) -> None:
        """Close the listener and every connection; requests in flight get a second."""
        if self._stopped:
            return
        self._stopped = True
        trigger: Any = self._server.trigger  # the stubs call it an int
        if self._thread.is_alive():
            trigger.pull_trigger(self._server.stop)  # run on the I/O thread
            self._thread.join(timeout=5.0)
        else:
            self._server.stop()
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=SHUTDOWN_GRACE)
        trigger.close()


def serve(
    app: WSGIApplication,
    listen: str,
    *,
    threads: int = 16,
    connection_limit: int = 100,
    request_timeout: float = 15.0,
    channel_timeout: int = 30,
    max_request_body: int = 65536,
) -> HttpServer:
    """Bind ``listen`` and serve ``app`` on a daemon thread; DdnsdError when impossible.

    ``max_request_body`` must be at least the app's ``max_body`` (bodies the server
    does not read look cut short to the app).
    """
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise DdnsdError(f"cannot listen on {listen!r}: {exc}") from None
    sock = _listening_socket(listen, host, port)
    adj = Adjustments(
        sockets=[sock],
        threads=threads,
        connection_limit=connection_limit,
        channel_timeout=channel_timeout,
        cleanup_interval=1,  # seconds between checks for idle and overdue connections
        max_request_header_size=MAX_HEADERS,
        max_request_body_size=max_request_body + 1,  # _Parser leaves larger bodies unread
        ident="ddnsd",
        log_socket_errors=False,
    )
    host, port = sock.getsockname()[:2]
    try:
        server = _Server(app, sock, adj, request_timeout)  # listen() may still fail
    except OSError as exc:
        sock.close()
        raise DdnsdError(f"cannot listen on {listen}: {_bind_problem(exc)}") from None
    thread = threading.Thread(target=server.run, name="ddnsd-http", daemon=True)
    thread.start()
    return HttpServer(server, thread, str(host), int(port))


def _listening_socket(listen: str, host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE | socket.AI_NUMERICSERV
        )
    except socket.gaierror as exc:
        raise DdnsdError(
            f"cannot listen on {listen}: the host {host!r} does not resolve ({exc.strerror}); "
            "use an IP address"
        ) from None
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and sockaddr[0] == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # dual stack
        sock.bind(sockaddr)
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
