"""The HTTP server at its connection limit, over real sockets: a connection past the limit
waits (in the listen backlog) until idle ones are closed, and is then served; the threads
stay bounded however many clients connect.

Nothing here is measured by time: waits are bounded generously and end on what the
sockets receive.
"""

from __future__ import annotations

import socket
import threading

import requests

from ddnsd.observe.health import Health
from ddnsd.observe.metrics import Metrics
from ddnsd.web.app import make_app
from ddnsd.web.server import serve

LIMIT = 10
THREADS = 4


def test_past_the_limit_a_client_waits_until_idle_ones_are_closed() -> None:
    threads_before = threading.active_count()
    app = make_app(metrics=Metrics(), health=Health(300.0))
    srv = serve(app, "127.0.0.1:0", threads=THREADS, connection_limit=LIMIT, channel_timeout=1)
    idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=30) for _ in range(3 * LIMIT)]
    try:
        r = requests.get(srv.url + "/healthz", timeout=60)
        assert (r.status_code, r.text) == (200, "ok\n")
        assert threading.active_count() <= threads_before + THREADS + 1  # + the I/O thread
        # every idle client was closed by the server (a timeout here raises instead)
        assert all(sock.recv(1) == b"" for sock in idle)
    finally:
        for sock in idle:
            sock.close()
        srv.shutdown()
