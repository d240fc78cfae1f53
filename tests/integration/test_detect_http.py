"""The https:// source against a real HTTP server on loopback."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from daemon_support import DualStackServer, text_reply

from ddnsd.detect.base import Family, SourceFailed
from ddnsd.detect.sources import make_detector
from ddnsd.detect.spec import parse_source

V4_ANSWER, V6_ANSWER = "203.0.113.7", "2001:db8::7"
RELEASE = threading.Event()  # holds /slow open until the test is over

ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/plain": (200, "text/plain", b"203.0.113.7\n"),
    "/plain-crlf-extra": (200, "text/plain", b"  203.0.113.8 \r\nsecond line\r\n"),
    "/html": (200, "text/html", b"<!DOCTYPE html>\n<html><body>203.0.113.7</body></html>"),
    "/garbage": (200, "text/plain", b"your ip is somewhere\n"),
    "/binary": (200, "application/octet-stream", b"\x00\xff\xfe\x01garbage"),
    "/empty": (200, "text/plain", b""),
    "/private": (200, "text/plain", b"10.0.0.7\n"),
    "/json": (200, "application/json", b'{"ip": "203.0.113.7"}'),
    "/error": (500, "text/plain", b"203.0.113.7\n"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            RELEASE.wait(30)
            return
        if self.path == "/slow-body":  # the headers, then nothing
            self.send_response(200)
            self.send_header("Content-Length", "20")
            self.end_headers()
            self.wfile.flush()
            RELEASE.wait(30)
            return
        if self.path == "/echo-family":
            client = ipaddress.ip_address(self.client_address[0])
            v4 = client.version == 4 or (
                isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None
            )
            status, body = 200, (V4_ANSWER if v4 else V6_ANSWER).encode()
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/plain")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        else:
            status, _ctype, body = ROUTES.get(self.path, (404, "text/plain", b"not found"))
        text_reply(self, status, body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    RELEASE.clear()
    server = DualStackServer(("::", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        RELEASE.set()
        server.shutdown()
        server.server_close()


def detect(url: str, family: Family = Family.V4, timeout: float = 5.0) -> str:
    return make_detector(parse_source(url), timeout=timeout, allow_private=True).detect(family)


OK = [
    ("plain-text", "/plain", "203.0.113.7"),
    ("first-line-stripped", "/plain-crlf-extra", "203.0.113.8"),
    ("redirect-followed", "/redirect", "203.0.113.7"),
]


@pytest.mark.parametrize(("path", "want"), [c[1:] for c in OK], ids=[c[0] for c in OK])
def test_plain_text_answer_is_the_address(port: int, path: str, want: str) -> None:
    assert detect(f"http://127.0.0.1:{port}{path}") == want


FAIL = [
    ("html", "/html", "answered HTML, not an address; is it a plain-text echo URL?"),
    ("garbage", "/garbage", "bad answer: 'your ip is somewhere' is not an IP address"),
    ("binary", "/binary", "is not an IP address"),
    ("json", "/json", """bad answer: '{"ip": "203.0.113.7"}' is not an IP address"""),
    ("empty", "/empty", "answered an empty body"),
    ("http-500", "/error", "answered HTTP 500"),
    ("http-404", "/nothing-here", "answered HTTP 404"),
]


@pytest.mark.parametrize(("path", "words"), [c[1:] for c in FAIL], ids=[c[0] for c in FAIL])
def test_unusable_answers_fail_the_source_by_name(port: int, path: str, words: str) -> None:
    url = f"http://127.0.0.1:{port}{path}"
    with pytest.raises(SourceFailed) as err:
        detect(url)
    assert str(err.value).startswith(f"address source '{url}' failed for IPv4: ")
    assert words in str(err.value)


def test_private_answer_fails_without_allow_private(port: int) -> None:
    url = f"http://127.0.0.1:{port}/private"
    with pytest.raises(SourceFailed) as err:
        make_detector(parse_source(url)).detect(Family.V4)
    assert "10.0.0.7 is in the private (RFC 1918) range 10.0.0.0/8" in str(err.value)


@pytest.mark.parametrize("path", ["/slow", "/slow-body"])
def test_timeout_fails_the_source(port: int, path: str) -> None:
    with pytest.raises(SourceFailed, match=r"no answer within 0\.5 s over IPv4"):
        detect(f"http://127.0.0.1:{port}{path}", timeout=0.5)


def test_connection_refused_fails_the_source() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    with pytest.raises(SourceFailed, match=r"could not connect over IPv4 .*Connection refused"):
        detect(f"http://127.0.0.1:{free}/plain")


def test_each_family_is_asked_over_its_own_transport(port: int) -> None:
    assert detect(f"http://127.0.0.1:{port}/echo-family", Family.V4) == V4_ANSWER
    assert detect(f"http://[::1]:{port}/echo-family", Family.V6) == V6_ANSWER


def test_a_v6_only_url_cannot_answer_for_ipv4(port: int) -> None:
    with pytest.raises(SourceFailed, match="could not connect over IPv4"):
        detect(f"http://[::1]:{port}/echo-family", Family.V4)
