"""The HTTP server past its connection limit, over real sockets: idle and trickling clients
get a 503 with a status line instead of a silent backlog, threads stay bounded, and health
checks are still answered while they hang.

Nothing here is measured by time: waits are bounded generously and end on what the
sockets receive.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from ddnsd.observe.health import Health
from ddnsd.observe.metrics import Metrics
from ddnsd.web.app import make_app
from ddnsd.web.server import HttpServer, serve

LIMIT = 10
THREADS = 4
BUSY = b"HTTP/1.0 503 Service Unavailable\r\n"


@pytest.fixture
def server() -> Iterator[HttpServer]:
    app = make_app(metrics=Metrics(), health=Health(300.0))
    srv = serve(app, "127.0.0.1:0", threads=THREADS, connection_limit=LIMIT, channel_timeout=120)
    yield srv
    srv.shutdown()


def connect(srv: HttpServer, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(count)]


def answers(socks: list[socket.socket], want: int, *, within: float = 60.0) -> dict[int, bytes]:
    """What each socket received until the server closed it, once ``want`` of them closed
    (a bounded wait; the sockets still open are left out)."""
    got: dict[int, bytes] = {i: b"" for i in range(len(socks))}
    closed: dict[int, bytes] = {}
    deadline = time.monotonic() + within
    while len(closed) < want and time.monotonic() < deadline:
        open_ = [s for i, s in enumerate(socks) if i not in closed]
        readable, _, _ = select.select(open_, [], [], 0.5)
        for sock in readable:
            i = socks.index(sock)
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if chunk:
                got[i] += chunk
            else:
                closed[i] = got[i]
    return closed


def test_hundreds_of_idle_clients_get_503s_while_health_checks_get_in(
    server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    threads_before = threading.active_count()
    with caplog.at_level(logging.DEBUG):
        idle = connect(server, 200)
        try:
            # While they hang: a health check is served, on a connection past the limit.
            r = requests.get(server.url + "/healthz", timeout=10)
            assert (r.status_code, r.text) == (200, "ok\n")

            closed = answers(idle, 200 - LIMIT)
            assert len(closed) == 200 - LIMIT  # the rest stay open: the limit
            assert all(data.startswith(BUSY) for data in closed.values())
            assert threading.active_count() <= threads_before + THREADS + 1
        finally:
            for sock in idle:
                sock.close()
    head, _, body = next(iter(closed.values())).partition(b"\r\n\r\n")
    assert b"Retry-After: 1" in head
    assert body == b"too many connections; try again in a moment\n"
    assert not [r for r in caplog.records if r.exc_info or r.name.startswith("waitress")]
    assert any("connections open (the limit)" in r.getMessage() for r in caplog.records)


def test_a_request_past_the_limit_gets_503_and_service_resumes_when_clients_leave(
    server: HttpServer,
) -> None:
    held = connect(server, LIMIT)
    try:
        trickler = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        trickler.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")  # and nothing more
        # A whole request past the limit: answered 503 at once, with a status line.
        r = requests.get(server.url + "/metrics", timeout=10)
        assert (r.status_code, r.headers["Retry-After"]) == (503, "1")
        assert r.text == "too many connections; try again in a moment\n"
        assert requests.get(server.url + "/readyz", timeout=10).status_code == 503  # not ready
        # The trickler gets the same answer once its short time past the limit is up.
        assert answers([trickler], 1)[0].startswith(BUSY)
    finally:
        for sock in held:
            sock.close()

    def served() -> bool:
        return requests.get(server.url + "/metrics", timeout=10).status_code == 200

    deadline = time.monotonic() + 30
    while not served():
        assert time.monotonic() < deadline, "the server did not serve again after clients left"
        time.sleep(0.1)
