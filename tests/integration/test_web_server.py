"""The HTTP server and its observability routes, over real sockets."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from clock_support import Clock

from ddnsd.errors import DdnsdError
from ddnsd.model import Outcome
from ddnsd.observe.health import Health
from ddnsd.observe.metrics import Metrics, metric_names
from ddnsd.web.app import make_app
from ddnsd.web.server import MAX_HEADERS, HttpServer, serve

NOW = 1_700_000_000.0

EXPECTED_METRICS = {
    "ddnsd_detected_address_info",
    "ddnsd_detection_disagreements_total",
    "ddnsd_source_failures_total",
    "ddnsd_record_in_sync",
    "ddnsd_record_outcomes_total",
    "ddnsd_rounds_total",
    "ddnsd_api_requests_total",
    "ddnsd_api_request_duration_seconds",
    "ddnsd_transip_rate_limit_remaining",
    "ddnsd_api_budget_remaining",
    "ddnsd_api_deferred_total",
    "ddnsd_token_expiry_timestamp_seconds",
    "ddnsd_last_success_timestamp_seconds",
    "ddnsd_acme_challenges_total",
    "ddnsd_acme_propagation_seconds",
    "ddnsd_dyndns_pushes_total",
    "ddnsd_notify_failures_total",
    "ddnsd_build_info",
}


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(version="9.9.9")


@pytest.fixture
def health(clock: Clock) -> Health:
    return Health(300.0, clock=clock)


@pytest.fixture
def server(metrics: Metrics, health: Health) -> Iterator[HttpServer]:
    srv = serve(make_app(metrics=metrics, health=health), "127.0.0.1:0")
    yield srv
    srv.shutdown()


def test_metric_names_are_the_documented_set() -> None:
    assert metric_names() == EXPECTED_METRICS


def test_metrics_page_shows_recorded_values(server: HttpServer, metrics: Metrics) -> None:
    metrics.set_detected_address("ipv4", "198.51.100.7")
    metrics.set_detected_address("ipv4", "198.51.100.8")  # the old one disappears
    metrics.record_outcome("home.example.test/A", Outcome.UPDATED)
    metrics.record_outcome("home.example.test/AAAA", Outcome.FAILED)
    metrics.observe_api("GET", "/domains/{domain}/dns", 200, 0.2)
    metrics.observe_round(True, NOW)

    r = requests.get(server.url + "/metrics", timeout=5)

    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    for name in EXPECTED_METRICS:
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'ddnsd_detected_address_info{address="198.51.100.8",family="ipv4"} 1.0' in text
    assert "198.51.100.7" not in text
    assert 'ddnsd_record_in_sync{record="home.example.test/A"} 1.0' in text
    assert 'ddnsd_record_in_sync{record="home.example.test/AAAA"} 0.0' in text
    assert 'ddnsd_record_outcomes_total{outcome="updated",record="home.example.test/A"} 1.0' in text
    assert 'ddnsd_record_outcomes_total{outcome="noop",record="home.example.test/A"} 0.0' in text
    assert (
        'ddnsd_api_requests_total{method="GET",path="/domains/{domain}/dns",status="200"} 1.0'
        in text
    )
    assert 'ddnsd_rounds_total{result="ok"} 1.0' in text
    assert "ddnsd_last_success_timestamp_seconds 1.7e+09" in text
    assert "ddnsd_transip_rate_limit_remaining NaN" in text
    assert 'ddnsd_build_info{version="9.9.9"} 1.0' in text


def test_metrics_openmetrics_on_request(server: HttpServer) -> None:
    r = requests.get(
        server.url + "/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=5,
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/openmetrics-text")
    assert r.text.endswith("# EOF\n")


def test_healthz_and_readyz(server: HttpServer, health: Health, clock: Clock) -> None:
    assert requests.get(server.url + "/healthz", timeout=5).text == "ok\n"

    r = requests.get(server.url + "/readyz", timeout=5)
    assert (r.status_code, r.text) == (503, "not ready: no successful round yet\n")

    health.record_round(True, NOW)
    clock.now = NOW + 12
    r = requests.get(server.url + "/readyz", timeout=5)
    assert (r.status_code, r.text) == (200, "ready: last successful round 12 s ago\n")

    health.set_token_problem("TransIP refused the key for login 'demo'")
    r = requests.get(server.url + "/readyz", timeout=5)
    assert r.status_code == 503
    assert "no usable TransIP token (TransIP refused the key for login 'demo')" in r.text


ROUTING = {
    "unknown-path/404": ("GET", "/nope", 404),
    "trailing-slash/404": ("GET", "/metrics/", 404),
    "post-metrics/405": ("POST", "/metrics", 405),
    "delete-healthz/405": ("DELETE", "/healthz", 405),
    "head-healthz/200": ("HEAD", "/healthz", 200),
    "acme-not-configured/404": ("POST", "/acme/present", 404),
    "acmedns-not-configured/404": ("POST", "/update", 404),
    "dyndns-not-configured/404": ("GET", "/nic/update", 404),
}


@pytest.mark.parametrize(("method", "path", "status"), ROUTING.values(), ids=ROUTING.keys())
def test_routing(server: HttpServer, method: str, path: str, status: int) -> None:
    r = requests.request(method, server.url + path, timeout=5)
    assert r.status_code == status
    if status == 405:
        assert r.headers["Allow"] == "GET, HEAD"


def test_head_has_no_body_but_the_length(server: HttpServer) -> None:
    r = requests.head(server.url + "/healthz", timeout=5)
    assert r.content == b""
    assert r.headers["Content-Length"] == "3"


def test_without_health_or_metrics() -> None:
    srv = serve(make_app(metrics=None, health=None), "127.0.0.1:0")
    try:
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(srv.url + "/readyz", timeout=5).status_code == 404
        assert requests.get(srv.url + "/metrics", timeout=5).status_code == 404
    finally:
        srv.shutdown()


def test_access_log_one_line_without_query(
    server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="ddnsd.web"):
        requests.get(server.url + "/nope?secret=hunter2", timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "ddnsd.web"]
    assert len(lines) == 1
    assert lines[0].startswith("127.0.0.1 GET /nope 404 ")
    assert lines[0].endswith(" ms")
    assert "hunter2" not in caplog.text


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback here")
def test_dual_stack_listener_answers_both_families() -> None:
    srv = serve(make_app(metrics=None, health=None), "[::]:0")
    try:
        assert srv.url == f"http://[::1]:{srv.port}"
        for host in ("127.0.0.1", "[::1]"):
            r = requests.get(f"http://{host}:{srv.port}/healthz", timeout=5)
            assert r.status_code == 200
    finally:
        srv.shutdown()


def test_all_ipv4_listener_url_is_loopback() -> None:
    srv = serve(make_app(metrics=None, health=None), "0.0.0.0:0")
    try:
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
    finally:
        srv.shutdown()


def test_address_in_use_is_one_clear_sentence(server: HttpServer) -> None:
    with pytest.raises(DdnsdError) as err:
        serve(make_app(metrics=None, health=None), f"127.0.0.1:{server.port}")
    assert str(err.value) == (
        f"cannot listen on 127.0.0.1:{server.port}: the address is already in use; "
        "stop the other process or change [http] listen"
    )


def test_shutdown_frees_the_port() -> None:
    srv = serve(make_app(metrics=None, health=None), "127.0.0.1:0")
    port = srv.port
    srv.shutdown()
    again = serve(make_app(metrics=None, health=None), f"127.0.0.1:{port}")
    again.shutdown()


LISTEN_BAD = {
    "no-port": "127.0.0.1",
    "empty-host": ":9333",
    "bare-ipv6": "::1:9333",
    "port-too-big": "127.0.0.1:70000",
    "port-not-number": "127.0.0.1:http",
    "unclosed-bracket": "[::1:9333",
    "name": "localhost:9333",
}


@pytest.mark.parametrize("listen", LISTEN_BAD.values(), ids=LISTEN_BAD.keys())
def test_bad_listen_is_refused(listen: str) -> None:
    with pytest.raises(DdnsdError, match="^" + re.escape(f"cannot listen on {listen!r}: ")):
        serve(make_app(metrics=None, health=None), listen)


# --------------------------------------------------------------------------- the server itself


def exchange(port: int, data: bytes, *, host: str = "127.0.0.1") -> bytes:
    """Send raw bytes, stop sending, read until the server closes."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


SERVER_ANSWERS = {
    "one-word-request-line": (b"GET\r\n\r\n", b"HTTP/1.0 400 Bad Request\r\n"),
    "lowercase-method": (b"get /healthz HTTP/1.1\r\n\r\n", b"HTTP/1.0 400 Bad Request\r\n"),
    # exactly the cap, so the server has read all of it when it answers (what a client
    # sends after an answer that closes the connection may turn the close into a reset)
    "headers-too-large": (
        b"GET /healthz HTTP/1.1\r\nX-Pad: ".ljust(MAX_HEADERS, b"a"),
        b"HTTP/1.0 431 Request Header Fields Too Large\r\n",
    ),
    "http-1.0-answered-and-closed": (b"GET /healthz HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n"),
    "nothing-sent": (b"", b""),
}


@pytest.mark.parametrize(("data", "start"), SERVER_ANSWERS.values(), ids=SERVER_ANSWERS.keys())
def test_server_answers_with_a_status_line(server: HttpServer, data: bytes, start: bytes) -> None:
    answer = exchange(server.port, data)
    assert answer.startswith(start)
    if start.startswith(b"HTTP/1.0 4"):
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"Content-Type: text/plain" in head
        assert body.startswith(start.split(b" ", 2)[2].strip())  # the reason, in waitress's text
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


def test_keep_alive_serves_several_requests_on_one_connection(server: HttpServer) -> None:
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(server.url + "/healthz", timeout=5).text == "ok\n"


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback here")
def test_dual_stack_shows_ipv4_clients_unmapped(caplog: pytest.LogCaptureFixture) -> None:
    srv = serve(make_app(metrics=None, health=None), "[::]:0")
    try:
        with caplog.at_level(logging.INFO, logger="ddnsd.web"):
            requests.get(f"http://127.0.0.1:{srv.port}/nope", timeout=5)
    finally:
        srv.shutdown()
    lines = [r.getMessage() for r in caplog.records if r.name == "ddnsd.web"]
    assert lines[0].startswith("127.0.0.1 GET /nope 404 ")


def _partial_request(port: int) -> socket.socket:
    """A connection whose request never finishes (a slow client)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
    return sock


def test_healthz_answers_while_50_slow_clients_hold_connections() -> None:
    srv = serve(make_app(metrics=None, health=None), "127.0.0.1:0", threads=2)
    slow = [_partial_request(srv.port) for _ in range(50)]
    try:
        # two threads for 50 slow clients: they hold sockets, not threads
        assert requests.get(srv.url + "/healthz", timeout=30).text == "ok\n"
    finally:
        for sock in slow:
            sock.close()
        srv.shutdown()


def test_idle_connections_are_closed(caplog: pytest.LogCaptureFixture) -> None:
    srv = serve(make_app(metrics=None, health=None), "127.0.0.1:0", channel_timeout=1)
    idle = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    stalled = _partial_request(srv.port)
    try:
        with caplog.at_level(logging.DEBUG):
            # the server closes both (a timeout here raises instead)
            assert idle.recv(65536) == b""
            assert stalled.recv(65536) == b""
    finally:
        idle.close()
        stalled.close()
        srv.shutdown()
    assert not [r for r in caplog.records if r.exc_info]


def test_shutdown_does_not_wait_for_a_slow_request() -> None:
    arrived = threading.Event()
    release = threading.Event()
    finished = threading.Event()

    def slow_app(environ: Any, start_response: Any) -> list[bytes]:
        arrived.set()
        release.wait(30)
        finished.set()
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    others = set(threading.enumerate())
    srv = serve(slow_app, "127.0.0.1:0")
    client = threading.Thread(target=_get_quietly, args=(srv.url + "/slow",))
    client.start()
    try:
        assert arrived.wait(30)
        srv.shutdown()
        assert not finished.is_set()  # shutdown returned while the request still ran
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
    finally:
        release.set()
        client.join(10)
        for worker in set(threading.enumerate()) - others:  # this server's: its late
            worker.join(10)  # write to a closed descriptor must not land in other tests


def test_a_request_finishing_during_shutdown_completes_and_writes_nowhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A response that is ready while the server shuts down is still sent; waitress's
    close() must not come first (its worker would write to a closed, perhaps reused, file
    descriptor: "Bad file descriptor" in the log, or a byte in some other file)."""
    arrived, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_app(environ: Any, start_response: Any) -> list[bytes]:
        arrived.set()
        release.wait(30)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    answers: list[int] = []

    def client() -> None:
        answers.append(requests.get(srv.url + "/slow", timeout=10).status_code)
        finished.set()

    srv = serve(slow_app, "127.0.0.1:0")
    caller = threading.Thread(target=client)
    caller.start()
    try:
        assert arrived.wait(30)
        threading.Timer(0.2, release.set).start()  # ready within the shutdown's grace
        srv.shutdown()
        assert finished.wait(10)
        assert answers == [200]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
    finally:
        release.set()
        caller.join(10)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def _get_quietly(url: str) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.get(url, timeout=10)
