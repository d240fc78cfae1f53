"""HTTP fuzz: hypothesis against httpreq, acme-dns, dyndns2, /healthz, /metrics, /readyz.

The real web app on a real socket, the real challenge service writing to the emulator.
Requests mix well-formed and hostile parts: right and wrong credentials, names and
values full of control characters, look-alike dots and unicode, JSON of every shape,
bytes that are not JSON, query strings with repeated and odd fields, odd methods and
paths. Counted: 5xx answers, tracebacks in the log or in an answer, secrets in an
answer, and unintended writes (any entry in the zone that is neither one of the
emulator's foreign entries nor a value a 200 answer accepted).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from daemon_support import challenge_service
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddnsd.acme.challenge import challenge_name, challenge_value
from ddnsd.config.runtime import AcmeDnsAccount, DyndnsEndpoint, HttpreqAuth
from ddnsd.detect.push import PushStore
from ddnsd.observe.health import Health
from ddnsd.observe.metrics import Metrics
from ddnsd.web.app import make_app
from ddnsd.web.server import HttpServer, serve

BASE_CASES = 150
HTTPREQ = ("lego", "httpreq-s3cret-pw")
ACMEDNS = ("certmanager", "acmedns-s3cret-key")
ROUTER = ("router", "router-s3cret-pw")
SECRETS = [HTTPREQ[1], ACMEDNS[1], ROUTER[1]]
ACME_NAME = "_acme-challenge.example.test"
VALUE = "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0"

# Text that breaks naive parsers: control characters, look-alike dots, unicode, blanks.
NASTY = st.sampled_from(
    [
        "\n",
        "\r",
        "\x00",
        "\t",
        " ",
        "\x1b[2J",
        "\u2028",
        "\u3002",
        "\uff0e",
        "\uff61",
        "ü",
        "..",
        "%0a",
        '"',
        "\\",
        "*",
    ]
)
LABEL = st.from_regex(r"[a-z0-9_-]{1,70}", fullmatch=True)
NAME = st.one_of(
    st.just(ACME_NAME),
    st.builds(lambda s: f"_acme-challenge.{s}.example.test", LABEL),
    st.builds(
        lambda a, n, b: a + n + b, st.just("_acme-challenge."), NASTY, st.just("example.test")
    ),
    st.builds(lambda n: ACME_NAME + n, NASTY),
    st.text(max_size=300),
)
TXT = st.one_of(
    st.just(VALUE),
    st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True),
    st.builds(lambda n: VALUE + n, NASTY),
    st.text(max_size=300),
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)


def basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


AUTH = st.sampled_from(["right", "right", "right", "right", "wrong", "none", "garbled"])


@st.composite
def requests_(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path with query, headers, body) aimed at one of the routes."""
    route = draw(
        st.sampled_from(
            ["present", "cleanup", "update", "nic", "health", "metrics", "readyz", "other"]
        )
    )
    auth = draw(AUTH)
    headers: dict[str, str] = {}
    body = b""
    method = "POST"
    if route in ("present", "cleanup"):
        path = f"/acme/{route}"
        if auth != "none":
            headers["Authorization"] = {
                "right": basic(*HTTPREQ),
                "wrong": basic(HTTPREQ[0], "nope"),
                "garbled": "Basic %%%",
            }[auth]
        shape = draw(st.sampled_from(["fqdn", "raw", "junk-json", "bytes"]))
        if shape == "fqdn":
            body = json.dumps({"fqdn": draw(NAME), "value": draw(TXT)}).encode()
        elif shape == "raw":
            body = json.dumps(
                {
                    "domain": draw(NAME).removeprefix("_acme-challenge."),
                    "token": "t",
                    "keyAuth": draw(st.text(max_size=60)),
                }
            ).encode()
        elif shape == "junk-json":
            body = json.dumps(draw(JSONISH)).encode()
        else:
            body = draw(st.binary(max_size=200))
    elif route == "update":
        path = "/update"
        if auth != "none":
            key = {"right": ACMEDNS[1], "wrong": "nope", "garbled": "\x7f"}[auth]
            headers.update({"X-Api-User": ACMEDNS[0], "X-Api-Key": key.encode("latin-1").decode()})
        sub = draw(st.one_of(st.just("_acme-challenge"), st.just(ACME_NAME), NAME))
        body = json.dumps(
            {draw(st.sampled_from(["subdomain", "SubDomain", "x"])): sub, "txt": draw(TXT)}
        ).encode()
    elif route == "nic":
        method = draw(st.sampled_from(["GET", "GET", "POST", "HEAD"]))
        if auth != "none":
            headers["Authorization"] = basic(*ROUTER) if auth == "right" else basic("router", "x")
        host = draw(st.one_of(st.just("home.example.test"), NAME, st.text(max_size=60)))
        ip = draw(st.one_of(st.just("81.2.69.160"), st.just("2a01:7c8::1"), st.text(max_size=40)))
        query = draw(
            st.sampled_from(
                [
                    "hostname={h}&myip={i}",
                    "hostname={h},{h}",
                    "myip={i}",
                    "{h}",
                    "hostname={h}&myip={i},{i}",
                ]
            )
        )
        path = "/nic/update?" + query.format(h=quote(host, safe=""), i=quote(ip, safe=""))
    else:
        method = draw(st.sampled_from(["GET", "HEAD", "POST", "DELETE", "OPTIONS"]))
        base = {"health": "/healthz", "metrics": "/metrics", "readyz": "/readyz"}.get(route, "")
        path = (base or "/" + quote(draw(st.text(max_size=40)))) + draw(
            st.sampled_from(["", "?x=1", "?%00"])
        )
        headers["Accept"] = draw(
            st.sampled_from(["*/*", "application/openmetrics-text; version=1.0.0", "\u00e9"])
        )
    return method, path, headers, body


class Counts:
    def __init__(self) -> None:
        self.cases = 0
        self.server_errors = 0
        self.tracebacks = 0
        self.secrets = 0
        self.accepted: set[tuple[str, str]] = set()
        self.statuses: dict[str, int] = {}


class TracebackCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.count += 1


@pytest.fixture
def sidecar(emulator: Any, tmp_path: Path) -> Iterator[HttpServer]:
    service = challenge_service(emulator, tmp_path, poll_interval=0.02, propagation_timeout=10)
    app = make_app(
        metrics=Metrics(),
        health=Health(300.0),
        acme=service,
        httpreq=HttpreqAuth("/acme", *HTTPREQ),
        acmedns_accounts=[AcmeDnsAccount(*ACMEDNS, ACME_NAME)],
        dyndns=DyndnsEndpoint(*ROUTER, frozenset({"home.example.test"})),
        push_store=PushStore(),
        max_auth_failures=10**9,
    )
    server = serve(app, "127.0.0.1:0")
    yield server
    server.shutdown()


def send(
    server: HttpServer, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v.encode("utf-8"))
        if method in ("POST", "PUT") or body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def record(counts: Counts, method: str, path: str, body: bytes, status: int, answer: bytes) -> None:
    counts.cases += 1
    counts.statuses[f"{path} {status}"] = counts.statuses.get(f"{path} {status}", 0) + 1
    not_ready = path == "/readyz" and status == 503  # documented: no round yet
    counts.server_errors += status >= 500 and not not_ready
    counts.tracebacks += b"Traceback" in answer
    counts.secrets += sum(s.encode() in answer for s in SECRETS)
    if status == 200 and path in ("/acme/present", "/update"):
        sent = json.loads(body)
        if path == "/update":
            counts.accepted.add((ACME_NAME, sent["txt"]))
        elif "fqdn" in sent:
            counts.accepted.add((sent["fqdn"].lower().rstrip("."), sent["value"]))
        else:  # RAW: the name and value lego would have computed
            name, value = challenge_name(sent["domain"]), challenge_value(sent["keyAuth"])
            counts.accepted.add((name, value))


def test_http_fuzz(
    sidecar: HttpServer, emulator: Any, campaign_scale: int, figures: Callable[..., None]
) -> None:
    foreign = set(emulator.entries("example.test")) | set(emulator.entries("other.test"))
    counts = Counts()
    tracebacks = TracebackCounter()
    logging.getLogger().addHandler(tracebacks)

    @settings(
        max_examples=BASE_CASES * campaign_scale,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests_())
    def one(request: tuple[str, str, dict[str, str], bytes]) -> None:
        method, path, headers, body = request
        status, answer = send(sidecar, method, path, headers, body)
        record(counts, method, path.split("?")[0], body, status, answer)

    try:
        one()
    finally:
        logging.getLogger().removeHandler(tracebacks)
    unintended = 0
    for domain in ("example.test", "other.test"):
        for e in emulator.entries(domain):
            fqdn = f"{e.name}.{domain}" if e.name != "@" else domain
            clean = re.fullmatch(r"[a-z0-9_.-]+", e.name) and re.fullmatch(r"[!-~]+", e.content)
            if e not in foreign and (not clean or (fqdn, e.content) not in counts.accepted):
                unintended += 1
    figures(
        "http fuzz (httpreq, acme-dns, dyndns2, health, metrics)",
        cases=counts.cases,
        server_errors=counts.server_errors,
        unintended_writes=unintended,
        tracebacks=counts.tracebacks + tracebacks.count,
        secrets_found=counts.secrets,
    )
    assert (
        counts.server_errors,
        unintended,
        counts.tracebacks + tracebacks.count,
        counts.secrets,
    ) == (0, 0, 0, 0)
    assert counts.cases >= BASE_CASES * campaign_scale
