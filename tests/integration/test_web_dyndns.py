"""dyndns2 router push (``GET /nic/update``) over real sockets: the answers a router sees."""

from __future__ import annotations

import base64
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from clock_support import Clock

from ddnsd.config.runtime import DyndnsEndpoint
from ddnsd.errors import DdnsdError, TransipServerError
from ddnsd.observe.metrics import Metrics
from ddnsd.web.app import make_app
from ddnsd.web.server import HttpServer, serve

USER, PASSWORD = "fritzbox", "r0uter-pw"
AUTH = (USER, PASSWORD)
HOME = "home.example.test"
NAS = "nas.example.test"
REFUSED = ["10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7", "::1/128"]


@dataclass
class Router:
    """Where pushes go (the PushStore's contract): remembers addresses, refuses private."""

    known: dict[str, str] = field(default_factory=dict)  # family label -> address
    calls: list[tuple[str, str]] = field(default_factory=list)
    error: Exception | None = None

    def push(self, family: int, ip: str, hostname: str) -> bool:
        self.calls.append((hostname, ip))
        if self.error is not None:
            raise self.error
        address = ipaddress.ip_address(ip)
        assert address.version == family
        if any(address in ipaddress.ip_network(net) for net in REFUSED):
            raise ValueError(f"{ip} is a private address, not a public one")
        label = f"IPv{address.version}"
        if self.known.get(label) == ip:
            return False
        self.known[label] = ip
        return True


@pytest.fixture
def router() -> Router:
    return Router()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(process_metrics=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(router: Router, metrics: Metrics, clock: Clock) -> Iterator[HttpServer]:
    endpoint = DyndnsEndpoint(USER, PASSWORD, frozenset({"Home.Example.Test.", NAS}))
    app = make_app(
        metrics=metrics,
        health=None,
        dyndns=endpoint,
        push_store=router,
        max_auth_failures=3,
        auth_lockout=60.0,
        clock=clock,
    )
    srv = serve(app, "127.0.0.1:0")
    yield srv
    srv.shutdown()


def update(server: HttpServer, query: str, **kw: Any) -> requests.Response:
    kw.setdefault("auth", AUTH)
    return requests.get(f"{server.url}/nic/update?{query}", timeout=10, **kw)


ANSWERS = {
    "one-host/new-ip/good": (
        f"hostname={HOME}&myip=198.51.100.7",
        200,
        "good 198.51.100.7",
        [(HOME, "198.51.100.7")],
    ),
    "one-host/ipv6/good": (
        f"hostname={HOME}&myip=2001:db8:1::7",
        200,
        "good 2001:db8:1::7",
        [(HOME, "2001:db8:1::7")],
    ),
    "ipv6-long-form/canonical": (
        f"hostname={HOME}&myip=2001:0db8:0001:0000:0000:0000:0000:0007",
        200,
        "good 2001:db8:1::7",
        [(HOME, "2001:db8:1::7")],
    ),
    "ula-ipv6/abuse": (f"hostname={HOME}&myip=fd00::7", 200, "abuse", [(HOME, "fd00::7")]),
    "fritzbox-both-families/good": (
        f"hostname={HOME}&myip=198.51.100.7,2001:db8:1::7",
        200,
        "good 198.51.100.7,2001:db8:1::7",
        [(HOME, "198.51.100.7"), (HOME, "2001:db8:1::7")],
    ),
    "fritzbox-no-ipv6/trailing-comma": (
        f"hostname={HOME}&myip=198.51.100.7,",
        200,
        "good 198.51.100.7",
        [(HOME, "198.51.100.7")],
    ),
    "myipv6-parameter": (
        f"hostname={HOME}&myip=198.51.100.7&myipv6=2001:db8:1::7",
        200,
        "good 198.51.100.7,2001:db8:1::7",
        [(HOME, "198.51.100.7"), (HOME, "2001:db8:1::7")],
    ),
    "two-hosts/one-line-each": (
        f"hostname={HOME},{NAS}&myip=198.51.100.7",
        200,
        "good 198.51.100.7\nnochg 198.51.100.7",
        [(HOME, "198.51.100.7"), (NAS, "198.51.100.7")],
    ),
    "hostname-case-and-dot": (
        "hostname=HOME.example.TEST.&myip=198.51.100.7",
        200,
        "good 198.51.100.7",
        [(HOME, "198.51.100.7")],
    ),
    "unknown-host/nohost": (
        "hostname=www.example.test&myip=198.51.100.7",
        200,
        "nohost",
        [],
    ),
    "mixed-known-unknown": (
        f"hostname=www.example.test,{HOME}&myip=198.51.100.7",
        200,
        "nohost\ngood 198.51.100.7",
        [(HOME, "198.51.100.7")],
    ),
    "no-hostname/notfqdn": ("myip=198.51.100.7", 200, "notfqdn", []),
    "empty-hostname/notfqdn": ("hostname=&myip=198.51.100.7", 200, "notfqdn", []),
    "single-label/notfqdn": ("hostname=home&myip=198.51.100.7", 200, "notfqdn", []),
    "bad-characters/notfqdn": ("hostname=ho%20me.example.test&myip=1.1.1.1", 200, "notfqdn", []),
    "too-many-hosts/numhost": (
        "hostname=" + ",".join(f"h{i}.example.test" for i in range(21)) + "&myip=198.51.100.7",
        200,
        "numhost",
        [],
    ),
    "private-ip/abuse": (
        f"hostname={HOME}&myip=192.168.1.10",
        200,
        "abuse",
        [(HOME, "192.168.1.10")],
    ),
    "not-an-ip/abuse": (f"hostname={HOME}&myip=%3Cipaddr%3E", 200, "abuse", []),
    "two-ipv4/abuse": (f"hostname={HOME}&myip=198.51.100.7,198.51.100.8", 200, "abuse", []),
    "no-myip/client-address-loopback/abuse": (
        f"hostname={HOME}",
        200,
        "abuse",
        [(HOME, "127.0.0.1")],
    ),
}


@pytest.mark.parametrize(("query", "status", "text", "calls"), ANSWERS.values(), ids=ANSWERS.keys())
def test_answers(
    server: HttpServer,
    router: Router,
    query: str,
    status: int,
    text: str,
    calls: list[tuple[str, str]],
) -> None:
    r = update(server, query)
    assert (r.status_code, r.text) == (status, text + "\n")
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert router.calls == calls


def test_same_address_again_is_nochg(server: HttpServer) -> None:
    assert update(server, f"hostname={HOME}&myip=198.51.100.7").text == "good 198.51.100.7\n"
    assert update(server, f"hostname={HOME}&myip=198.51.100.7").text == "nochg 198.51.100.7\n"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


BADAUTH = {
    "no-credentials": {},
    "wrong-password": {"Authorization": basic(USER, "guess")},
    "wrong-user": {"Authorization": basic("admin", PASSWORD)},
    "garbled": {"Authorization": "Basic ???"},
}


@pytest.mark.parametrize("headers", BADAUTH.values(), ids=BADAUTH.keys())
def test_badauth(server: HttpServer, router: Router, headers: dict[str, str]) -> None:
    r = requests.get(
        f"{server.url}/nic/update?hostname={HOME}&myip=198.51.100.7", headers=headers, timeout=10
    )
    assert (r.status_code, r.text) == (401, "badauth\n")
    assert r.headers["WWW-Authenticate"].startswith('Basic realm="ddnsd dyndns"')
    assert router.calls == []


def test_repeated_badauth_locks_out_with_abuse(
    server: HttpServer, router: Router, clock: Clock
) -> None:
    for _ in range(3):
        assert update(server, f"hostname={HOME}&myip=1.1.1.1", auth=(USER, "x")).text == "badauth\n"
    r = update(server, f"hostname={HOME}&myip=1.1.1.1")
    assert (r.status_code, r.text) == (429, "abuse\n")
    assert r.headers["Retry-After"] == "61"
    assert router.calls == []
    clock.now += 61
    assert update(server, f"hostname={HOME}&myip=1.1.1.1").text == "good 1.1.1.1\n"


FAILURES = {
    "transip-failed/911-502": (TransipServerError(500, "Internal error"), 502),
    "round-failed/911-503": (DdnsdError("detection failed"), 503),
}


@pytest.mark.parametrize(("error", "status"), FAILURES.values(), ids=FAILURES.keys())
def test_server_side_failure_is_911(
    server: HttpServer, router: Router, error: Exception, status: int
) -> None:
    router.error = error
    r = update(server, f"hostname={HOME}&myip=198.51.100.7")
    assert (r.status_code, r.text) == (status, "911\n")


def test_only_get(server: HttpServer) -> None:
    r = requests.post(f"{server.url}/nic/update?hostname={HOME}", auth=AUTH, timeout=10)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"


def test_pushes_are_counted(server: HttpServer) -> None:
    update(server, f"hostname={HOME},www.example.test&myip=198.51.100.7")
    update(server, f"hostname={HOME}&myip=198.51.100.7", auth=(USER, "x"))
    text = requests.get(server.url + "/metrics", timeout=5).text
    assert 'ddnsd_dyndns_pushes_total{result="good"} 1.0' in text
    assert 'ddnsd_dyndns_pushes_total{result="nohost"} 1.0' in text
    assert 'ddnsd_dyndns_pushes_total{result="badauth"} 1.0' in text


def test_query_never_logged(server: HttpServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG"):
        update(server, f"hostname={HOME}&myip=198.51.100.7&password={PASSWORD}")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("ddnsd")]
    assert ours
    assert not [line for line in ours if PASSWORD in line or "myip" in line]


FUZZ_QUERIES = {
    "too-many-fields": "&".join(f"f{i}=x" for i in range(100)),
    "hostname-repeated": f"hostname={HOME}&hostname={NAS}&myip=198.51.100.7",
    "percent-garbage": "hostname=%ZZ%&myip=%FF%FE",
    "nul-in-hostname": "hostname=home%00.example.test&myip=1.1.1.1",
    "very-long-hostname": "hostname=" + "a" * 5000 + ".test&myip=1.1.1.1",
    "ipv6-with-zone": f"hostname={HOME}&myip=fe80::1%25eth0",
    "ip-with-spaces": f"hostname={HOME}&myip=%201.1.1.1%20",
    "only-commas": "hostname=,,,&myip=,,,",
    "semicolons": f"hostname={HOME};{NAS}&myip=1.1.1.1",
    "unicode-hostname": "hostname=b%C3%BCcher.example.test&myip=1.1.1.1",
    "no-query": "",
}


@pytest.mark.parametrize("query", FUZZ_QUERIES.values(), ids=FUZZ_QUERIES.keys())
def test_fuzzed_queries_never_500(server: HttpServer, query: str) -> None:
    r = update(server, query)
    assert r.status_code < 500
    assert r.text.split()[0] in {
        "good",
        "nochg",
        "nohost",
        "notfqdn",
        "numhost",
        "abuse",
        "badagent",
    }


def test_raw_query_bytes_never_500(server: HttpServer) -> None:
    auth = basic(USER, PASSWORD).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"GET /nic/update?hostname=\xff\xfe.example.test&myip=\xc0\x80 HTTP/1.1\r\n"
            b"Host: x\r\nAuthorization: " + auth + b"\r\n\r\n"
        )
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status < 500
