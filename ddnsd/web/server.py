"""A small threaded WSGI server (stdlib wsgiref) for the ddnsd HTTP app.

``serve(app, "127.0.0.1:9333")`` binds, starts a daemon thread and returns an
:class:`HttpServer`. Listen addresses: ``HOST:PORT`` or ``[IPV6]:PORT``; ``0.0.0.0``
means every IPv4 address, ``[::]`` every IPv6 and IPv4 address (dual stack); port 0
picks a free port (read it from ``.port``).

Each connection gets its own daemon thread, so a slow ACME ``present`` (waiting for
propagation) never blocks ``/metrics``. wsgiref's stderr chatter goes to the
``ddnsd.web`` logger at DEBUG (the app writes the access log itself). After each
response the socket is closed gracefully (a bounded drain of what the client still
sends), so a client that gets an early answer (401, 413) sees it instead of a reset.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import socketserver
import threading
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer
from wsgiref.types import WSGIApplication

from ddnsd.errors import DdnsdError

log = logging.getLogger("ddnsd.web")

CONNECTION_TIMEOUT = 60.0  # seconds a client may stay silent mid-request
DRAIN_LIMIT = 1 << 20  # bytes read and dropped after an early answer
DRAIN_TIMEOUT = 1.0  # seconds spent at most on that


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


class _ServerHandler(ServerHandler):
    """wsgiref's handler with its error output sent to the log instead of stderr."""

    def log_exception(self, exc_info: Any) -> None:
        log.error("error while sending an HTTP response", exc_info=exc_info)


class _RequestHandler(WSGIRequestHandler):
    timeout = CONNECTION_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s: %s", self.client_address[0], format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the app logs one access line per request

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # An unsupported HTTP version is the client's mistake: 400, not a 5xx. A request
        # line with a version gets a status line back (http.server omits it, as if 0.9).
        if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code = HTTPStatus.BAD_REQUEST
        if self.request_version == "HTTP/0.9" and len(self.requestline.split()) >= 3:
            self.request_version = "HTTP/1.0"
        super().send_error(code, message, explain)

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["REMOTE_ADDR"] = _unmap(str(environ.get("REMOTE_ADDR", "")))
        return environ

    def handle(self) -> None:
        # As WSGIRequestHandler.handle, with our ServerHandler and multithread=True.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(
            self.rfile,
            self.wfile,  # type: ignore[arg-type]  # socketserver's writer is an IO[bytes]
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref's back-pointer
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


def _unmap(address: str) -> str:
    """``"::ffff:192.0.2.1"`` (IPv4 client on a dual-stack socket) → ``"192.0.2.1"``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return address


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], family: int) -> None:
        self.address_family = family
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6 and self.server_address[0] == "::":
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # Not HTTPServer.server_bind: its getfqdn() may wait on a reverse DNS lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def shutdown_request(self, request: Any) -> None:
        """Close gracefully: stop sending, drop what the client still sends, then close."""
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(DRAIN_TIMEOUT)
            drained = 0
            while drained < DRAIN_LIMIT:
                chunk = request.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("http connection from %s failed", client_address, exc_info=True)


class HttpServer:
    """A running server: ``.port``, ``.url``, ``.shutdown()``."""

    def __init__(self, server: _Server, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = int(server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to reach it locally (an unspecified address becomes loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def shutdown(self) -> None:
        """Stop accepting, close the socket; requests in flight finish in their threads."""
        stopper = threading.Thread(target=self._server.shutdown, daemon=True)
        stopper.start()
        for _ in range(100):  # wake the accept loop now instead of at its next poll
            self._poke()
            stopper.join(0.05)
            if not stopper.is_alive():
                break
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def _poke(self) -> None:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        with contextlib.suppress(OSError):
            socket.create_connection((host, self.port), timeout=0.5).close()


def serve(app: WSGIApplication, listen: str) -> HttpServer:
    """Bind ``listen`` and serve ``app`` on a daemon thread; DdnsdError when impossible."""
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise DdnsdError(f"cannot listen on {listen!r}: {exc}") from None
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
    try:
        server = _Server((str(sockaddr[0]), port), family)
    except OSError as exc:
        raise DdnsdError(f"cannot listen on {listen}: {_bind_problem(exc)}") from None
    server.set_app(app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="ddnsd-http", daemon=True
    )
    thread.start()
    bound = str(server.server_address[0])
    return HttpServer(server, thread, bound)


def _bind_problem(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use; stop the other process or change [http] listen"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no local interface has this address; change [http] listen"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    return exc.strerror or str(exc)
