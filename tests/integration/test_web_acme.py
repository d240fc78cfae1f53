"""ACME over HTTP: lego httpreq and acme-dns /update, over real sockets.

The backend here is a recording stand-in for the challenge service: it is our own
protocol boundary (``AcmeBackend``), so checking what reached it is checking the
HTTP layer's behaviour. The real service against the emulator is covered in
test_web_acme_emulator.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from clock_support import Clock

from ddnsd.config.runtime import AcmeDnsAccount, HttpreqAuth
from ddnsd.errors import ChallengeRefused, DdnsdError, PropagationTimeout, TransipServerError
from ddnsd.observe.metrics import Metrics
from ddnsd.web.app import make_app
from ddnsd.web.server import MAX_HEADERS, HttpServer, serve

USER, PASSWORD = "lego", "s3cret-pw"
AUTH = (USER, PASSWORD)
NAME = "_acme-challenge.example.test"
VALUE = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"  # 43 base64url characters
OTHER_VALUE = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
ACCOUNTS = [
    AcmeDnsAccount("certmanager", "k3y-one", NAME),
    AcmeDnsAccount("other", "k3y-two", "_acme-challenge.other.test"),
]


@dataclass
class FakeBackend:
    """Records calls; raises ``error`` when set."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    error: Exception | None = None

    def present(self, fqdn: str, value: str) -> None:
        self.calls.append(("present", fqdn, value))
        if self.error is not None:
            raise self.error

    def cleanup(self, fqdn: str, value: str) -> None:
        self.calls.append(("cleanup", fqdn, value))
        if self.error is not None:
            raise self.error

    def update_keep_newest(self, fqdn: str, value: str) -> None:
        self.calls.append(("update", fqdn, value))
        if self.error is not None:
            raise self.error


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(process_metrics=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(backend: FakeBackend, metrics: Metrics, clock: Clock) -> Iterator[HttpServer]:
    app = make_app(
        metrics=metrics,
        health=None,
        acme=backend,
        httpreq=HttpreqAuth("/acme", USER, PASSWORD),
        acmedns_accounts=ACCOUNTS,
        max_auth_failures=3,
        auth_lockout=60.0,
        clock=clock,
    )
    srv = serve(app, "127.0.0.1:0")
    yield srv
    srv.shutdown()


def post(server: HttpServer, path: str, **kw: Any) -> requests.Response:
    kw.setdefault("timeout", 10)
    return requests.post(server.url + path, **kw)


def expected_value(key_auth: str) -> str:
    digest = hashlib.sha256(key_auth.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# --------------------------------------------------------------------------- httpreq

HTTPREQ_OK = {
    "present/default-mode": (
        "/acme/present",
        {"fqdn": NAME + ".", "value": VALUE},
        ("present", NAME, VALUE),
    ),
    "cleanup/default-mode": (
        "/acme/cleanup",
        {"fqdn": NAME + ".", "value": VALUE},
        ("cleanup", NAME, VALUE),
    ),
    "present/name-normalised": (
        "/acme/present",
        {"fqdn": "_ACME-Challenge.Example.TEST.", "value": VALUE},
        ("present", NAME, VALUE),
    ),
    "present/raw-mode": (
        "/acme/present",
        {"domain": "example.test", "token": "tok", "keyAuth": "tok.thumb"},
        ("present", NAME, expected_value("tok.thumb")),
    ),
    "present/raw-mode-wildcard": (
        "/acme/present",
        {"domain": "*.example.test", "token": "tok", "keyAuth": "tok.thumb2"},
        ("present", NAME, expected_value("tok.thumb2")),
    ),
    "cleanup/raw-mode": (
        "/acme/cleanup",
        {"domain": "sub.example.test", "token": "tok", "keyAuth": "tok.thumb"},
        ("cleanup", "_acme-challenge.sub.example.test", expected_value("tok.thumb")),
    ),
}


@pytest.mark.parametrize(("path", "body", "call"), HTTPREQ_OK.values(), ids=HTTPREQ_OK.keys())
def test_httpreq_ok(
    server: HttpServer,
    backend: FakeBackend,
    path: str,
    body: dict[str, str],
    call: tuple[str, ...],
) -> None:
    r = post(server, path, json=body, auth=AUTH)
    assert (r.status_code, r.text) == (200, "ok\n")
    assert backend.calls == [call]


def test_httpreq_counts_challenges(server: HttpServer, metrics: Metrics) -> None:
    post(server, "/acme/present", json={"fqdn": NAME, "value": VALUE}, auth=AUTH)
    text = requests.get(server.url + "/metrics", timeout=5).text
    assert 'ddnsd_acme_challenges_total{action="present",result="ok"} 1.0' in text
    assert "ddnsd_acme_propagation_seconds_count 1.0" in text


def test_httpreq_custom_base(backend: FakeBackend) -> None:
    app = make_app(
        metrics=None, health=None, acme=backend, httpreq=HttpreqAuth("/lego/", USER, PASSWORD)
    )
    srv = serve(app, "127.0.0.1:0")
    try:
        body = {"fqdn": NAME, "value": VALUE}
        assert post(srv, "/lego/present", json=body, auth=AUTH).status_code == 200
        assert post(srv, "/acme/present", json=body, auth=AUTH).status_code == 404
    finally:
        srv.shutdown()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


AUTH_CASES = {
    "no-credentials": {},
    "wrong-password": {"Authorization": basic(USER, "nope")},
    "wrong-user": {"Authorization": basic("legoo", PASSWORD)},
    "empty-password": {"Authorization": basic(USER, "")},
    "password-prefix": {"Authorization": basic(USER, PASSWORD[:-1])},
    "bearer-scheme": {"Authorization": "Bearer abc"},
    "garbled-base64": {"Authorization": "Basic !!!notbase64"},
    "no-colon": {"Authorization": "Basic " + base64.b64encode(b"legos3cret").decode()},
    "empty-basic": {"Authorization": "Basic"},
}


@pytest.mark.parametrize("headers", AUTH_CASES.values(), ids=AUTH_CASES.keys())
def test_httpreq_needs_credentials(
    server: HttpServer, backend: FakeBackend, headers: dict[str, str]
) -> None:
    r = post(server, "/acme/present", json={"fqdn": NAME, "value": VALUE}, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith('Basic realm="ddnsd acme"')
    assert backend.calls == []
    assert PASSWORD not in r.text


BACKEND_ERRORS = {
    "refused/403": (
        ChallengeRefused("refusing _acme-challenge.evil.test: not inside the zones example.test"),
        403,
        "refusing _acme-challenge.evil.test: not inside the zones example.test",
    ),
    "propagation-timeout/504": (
        PropagationTimeout(
            "TXT at _acme-challenge.example.test not served by ns1.example.test after 600 s",
            lagging=["ns1.example.test"],
        ),
        504,
        "TXT at _acme-challenge.example.test not served by ns1.example.test after 600 s",
    ),
    "transip-failure/502": (
        TransipServerError(500, "Internal error", method="POST", path="/domains/example.test/dns"),
        502,
        "TransIP POST /domains/example.test/dns: 500 Internal error",
    ),
    "other-ddnsd-failure/503": (
        DdnsdError("could not find the nameservers of example.test: timeout"),
        503,
        "could not find the nameservers of example.test: timeout",
    ),
}


@pytest.mark.parametrize(("error", "status", "text"), BACKEND_ERRORS.values(), ids=BACKEND_ERRORS)
def test_httpreq_backend_errors(
    server: HttpServer, backend: FakeBackend, error: Exception, status: int, text: str
) -> None:
    backend.error = error
    r = post(server, "/acme/present", json={"fqdn": NAME, "value": VALUE}, auth=AUTH)
    assert (r.status_code, r.text) == (status, text + "\n")


BAD_BODIES: dict[str, bytes] = {
    "empty": b"",
    "not-json": b"fqdn=x&value=y",
    "invalid-utf8": b'{"fqdn": "\xff\xfe", "value": "x"}',
    "json-array": b"[]",
    "json-string": b'"hello"',
    "json-number-huge": b"1" * 5000,
    "json-null": b"null",
    "deep-nesting": b"[" * 60000,
    "empty-object": b"{}",
    "unknown-fields": b'{"name": "x", "txt": "y"}',
    "fqdn-missing-value": json.dumps({"fqdn": NAME}).encode(),
    "value-missing-fqdn": json.dumps({"value": VALUE}).encode(),
    "fqdn-number": json.dumps({"fqdn": 1, "value": VALUE}).encode(),
    "fqdn-null": json.dumps({"fqdn": None, "value": VALUE}).encode(),
    "fqdn-list": json.dumps({"fqdn": [NAME], "value": VALUE}).encode(),
    "value-object": json.dumps({"fqdn": NAME, "value": {"a": 1}}).encode(),
    "fqdn-empty": json.dumps({"fqdn": "", "value": VALUE}).encode(),
    "fqdn-blank": json.dumps({"fqdn": "   ", "value": VALUE}).encode(),
    "fqdn-space-inside": json.dumps(
        {"fqdn": "_acme-challenge.exa mple.test", "value": VALUE}
    ).encode(),
    "fqdn-nul": json.dumps({"fqdn": NAME + "\x00", "value": VALUE}).encode(),
    "fqdn-empty-label": json.dumps({"fqdn": "_acme-challenge..test", "value": VALUE}).encode(),
    "fqdn-too-long": json.dumps({"fqdn": ("a" * 60 + ".") * 5 + "test", "value": VALUE}).encode(),
    "fqdn-label-too-long": json.dumps({"fqdn": "a" * 64 + ".test", "value": VALUE}).encode(),
    "value-quote": json.dumps({"fqdn": NAME, "value": 'ab"cd'}).encode(),
    "value-space": json.dumps({"fqdn": NAME, "value": "ab cd"}).encode(),
    "value-too-long": json.dumps({"fqdn": NAME, "value": "a" * 256}).encode(),
    "value-non-ascii": json.dumps({"fqdn": NAME, "value": "café"}).encode(),
    "raw-missing-keyauth": json.dumps({"domain": "example.test", "token": "t"}).encode(),
    "raw-missing-token": json.dumps({"domain": "example.test", "keyAuth": "t.k"}).encode(),
    "raw-keyauth-number": json.dumps(
        {"domain": "example.test", "token": "t", "keyAuth": 5}
    ).encode(),
    "raw-domain-invalid": json.dumps(
        {"domain": "exa_mple test", "token": "t", "keyAuth": "t.k"}
    ).encode(),
    "raw-keyauth-lone-surrogate": b'{"domain": "example.test", "token": "t", "keyAuth": "\\ud800"}',
    "acme-fqdn-lone-surrogate": b'{"fqdn": "_acme-challenge.\\ud800.test", "value": "v"}',
    "raw-domain-only-wildcard": json.dumps(
        {"domain": "*", "token": "t", "keyAuth": "t.k"}
    ).encode(),
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_httpreq_malformed_body_is_400(
    server: HttpServer, backend: FakeBackend, body: bytes
) -> None:
    r = post(
        server,
        "/acme/present",
        data=body,
        auth=AUTH,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert backend.calls == []


def test_httpreq_body_over_limit_is_413(server: HttpServer, backend: FakeBackend) -> None:
    body = json.dumps({"fqdn": NAME, "value": VALUE, "pad": "x" * 70000}).encode()
    r = post(server, "/acme/present", data=body, auth=AUTH)
    assert r.status_code == 413  # by the server (waitress), before the app
    assert backend.calls == []


def test_smaller_max_body(backend: FakeBackend) -> None:
    app = make_app(
        metrics=None,
        health=None,
        acme=backend,
        httpreq=HttpreqAuth("/acme", USER, PASSWORD),
        max_body=100,
    )
    srv = serve(app, "127.0.0.1:0")
    try:
        ok = {"fqdn": NAME, "value": VALUE}
        assert post(srv, "/acme/present", json=ok, auth=AUTH).status_code == 200
        padded = {**ok, "pad": "x" * 100}
        assert post(srv, "/acme/present", json=padded, auth=AUTH).status_code == 413
    finally:
        srv.shutdown()


def test_lockout_after_repeated_wrong_passwords(
    server: HttpServer, backend: FakeBackend, clock: Clock
) -> None:
    body = {"fqdn": NAME, "value": VALUE}
    for _ in range(3):
        assert post(server, "/acme/present", json=body, auth=(USER, "guess")).status_code == 401
    r = post(server, "/acme/present", json=body, auth=AUTH)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "61"
    assert backend.calls == []
    clock.now += 60
    assert post(server, "/acme/present", json=body, auth=AUTH).status_code == 200


def test_missing_credentials_do_not_count_as_failures(server: HttpServer) -> None:
    body = {"fqdn": NAME, "value": VALUE}
    for _ in range(5):
        assert post(server, "/acme/present", json=body).status_code == 401
    assert post(server, "/acme/present", json=body, auth=AUTH).status_code == 200


def test_password_never_logged(server: HttpServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG"):
        post(server, "/acme/present", json={"fqdn": NAME, "value": VALUE}, auth=AUTH)
        post(server, "/acme/present", json={"fqdn": NAME, "value": VALUE}, auth=(USER, "guess"))
        post(
            server,
            "/update",
            json={"subdomain": "_acme-challenge", "txt": VALUE},
            headers={"X-Api-User": "certmanager", "X-Api-Key": "k3y-one"},
        )
    assert PASSWORD not in caplog.text
    assert "guess" not in caplog.text
    assert "k3y-one" not in caplog.text


# --------------------------------------------------------------------------- acme-dns


def api_headers(user: str = "certmanager", key: str = "k3y-one") -> dict[str, str]:
    return {"X-Api-User": user, "X-Api-Key": key}


ACMEDNS_OK = {
    "first-label": ("certmanager", "k3y-one", "_acme-challenge", NAME),
    "whole-fqdn": ("certmanager", "k3y-one", NAME + ".", NAME),
    "second-account": ("other", "k3y-two", "_acme-challenge", "_acme-challenge.other.test"),
}


@pytest.mark.parametrize(("user", "key", "subdomain", "fqdn"), ACMEDNS_OK.values(), ids=ACMEDNS_OK)
def test_acmedns_update(
    server: HttpServer, backend: FakeBackend, user: str, key: str, subdomain: str, fqdn: str
) -> None:
    r = post(
        server,
        "/update",
        json={"subdomain": subdomain, "txt": VALUE},
        headers=api_headers(user, key),
    )
    assert r.status_code == 200
    assert r.json() == {"txt": VALUE}
    assert backend.calls == [("update", fqdn, VALUE)]


ACMEDNS_BAD = {
    "no-headers/401": ({}, {"subdomain": "_acme-challenge", "txt": VALUE}, 401, "forbidden"),
    "wrong-key/401": (
        api_headers(key="k3y-two"),
        {"subdomain": "_acme-challenge", "txt": VALUE},
        401,
        "forbidden",
    ),
    "unknown-user/401": (
        api_headers(user="nobody"),
        {"subdomain": "_acme-challenge", "txt": VALUE},
        401,
        "forbidden",
    ),
    "other-accounts-name/403": (
        api_headers(),
        {"subdomain": "_acme-challenge.other.test", "txt": VALUE},
        403,
        "bad_subdomain",
    ),
    "uuid-subdomain/403": (
        api_headers(),
        {"subdomain": "8e5700ea-a4bf-41c7-8a77-e990661dcc6a", "txt": VALUE},
        403,
        "bad_subdomain",
    ),
    "missing-subdomain/400": (api_headers(), {"txt": VALUE}, 400, "bad_subdomain"),
    "missing-txt/400": (api_headers(), {"subdomain": "_acme-challenge"}, 400, "bad_txt"),
    "short-txt/400": (
        api_headers(),
        {"subdomain": "_acme-challenge", "txt": "abc"},
        400,
        "bad_txt",
    ),
    "txt-bad-chars/400": (
        api_headers(),
        {"subdomain": "_acme-challenge", "txt": "+" * 43},
        400,
        "bad_txt",
    ),
    "txt-number/400": (api_headers(), {"subdomain": "_acme-challenge", "txt": 43}, 400, "bad_txt"),
    "body-array/400": (api_headers(), [], 400, "malformed_json_payload"),
}


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"), ACMEDNS_BAD.values(), ids=ACMEDNS_BAD.keys()
)
def test_acmedns_refusals(
    server: HttpServer,
    backend: FakeBackend,
    headers: dict[str, str],
    body: object,
    status: int,
    code: str,
) -> None:
    r = post(server, "/update", json=body, headers=headers)
    assert r.status_code == status
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["error"] == code
    assert backend.calls == []


def test_acmedns_wrong_subdomain_says_what_to_send(server: HttpServer) -> None:
    r = post(server, "/update", json={"subdomain": "x", "txt": VALUE}, headers=api_headers())
    assert r.json()["detail"] == (
        "subdomain 'x' does not belong to account 'certmanager'; "
        "send '_acme-challenge' (first label of _acme-challenge.example.test)"
    )


def test_acmedns_not_json_is_400(server: HttpServer) -> None:
    r = post(server, "/update", data=b"{nope", headers=api_headers())
    assert r.status_code == 400
    assert r.json() == {"error": "malformed_json_payload", "detail": "the body is not valid JSON"}


@pytest.mark.parametrize(("error", "status", "text"), BACKEND_ERRORS.values(), ids=BACKEND_ERRORS)
def test_acmedns_backend_errors(
    server: HttpServer, backend: FakeBackend, error: Exception, status: int, text: str
) -> None:
    backend.error = error
    r = post(
        server,
        "/update",
        json={"subdomain": "_acme-challenge", "txt": VALUE},
        headers=api_headers(),
    )
    assert r.status_code == status
    assert r.json()["detail"] == text


def test_acmedns_only_when_accounts_exist(backend: FakeBackend) -> None:
    srv = serve(make_app(metrics=None, health=None, acme=backend), "127.0.0.1:0")
    try:
        body = {"subdomain": "_acme-challenge", "txt": VALUE}
        assert post(srv, "/update", json=body, headers=api_headers()).status_code == 404
    finally:
        srv.shutdown()


# --------------------------------------------------------------------------- fuzz-ish


def raw_request(port: int, data: bytes) -> tuple[int, bytes]:
    """Send raw bytes, read until the server closes; (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


AUTH_HEADER = basic(USER, PASSWORD).encode()
GOOD_BODY = json.dumps({"fqdn": NAME, "value": VALUE}).encode()

RAW_REQUESTS: dict[str, bytes] = {
    "content-length-lies-big": b"POST /acme/present HTTP/1.1\r\nHost: x\r\nAuthorization: "
    + AUTH_HEADER
    + b"\r\nContent-Length: 99999999\r\n\r\n{}",
    "content-length-negative": b"POST /acme/present HTTP/1.1\r\nHost: x\r\nAuthorization: "
    + AUTH_HEADER
    + b"\r\nContent-Length: -1\r\n\r\n{}",
    "content-length-words": b"POST /acme/present HTTP/1.1\r\nHost: x\r\nAuthorization: "
    + AUTH_HEADER
    + b"\r\nContent-Length: lots\r\n\r\n{}",
    "content-length-superscript-digit": b"POST /acme/present HTTP/1.1\r\nHost: x\r\n"
    b"Authorization: " + AUTH_HEADER + b"\r\nContent-Length: \xb2\r\n\r\n{}",
    "chunked": b"POST /acme/present HTTP/1.1\r\nHost: x\r\nAuthorization: "
    + AUTH_HEADER
    + b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "auth-latin1-bytes": b"POST /acme/present HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xe9\xe9"
    b"\r\nContent-Length: 2\r\n\r\n{}",
    "auth-utf8-credentials": b"POST /acme/present HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
    + base64.b64encode("l\u00e9go:p\u00e4ss".encode())
    + b"\r\nContent-Length: 2\r\n\r\n{}",
    "acmedns-latin1-headers": b"POST /update HTTP/1.1\r\nHost: x\r\nX-Api-User: \xe9\r\n"
    b"X-Api-Key: \xff\xfe\r\nContent-Length: 2\r\n\r\n{}",
    "garbage-request-line": b"\x00\x01\x02 garbage HTTP/1.1\r\n\r\n",
    "unknown-method": b"BREW /acme/present HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-http-version": b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n",
    "header-without-colon": b"GET /healthz HTTP/1.1\r\nthis is not a header\r\n\r\n",
    "very-long-path": b"GET /" + b"a" * 60000 + b" HTTP/1.1\r\n\r\n",
    # exactly the cap: all of it read when the answer closes the connection
    "request-line-over-the-cap": b"GET /".ljust(MAX_HEADERS, b"a"),
    "path-with-nul": b"GET /acme/%00present HTTP/1.1\r\nHost: x\r\n\r\n",
    "path-non-utf8": b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    "path-traversal": b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute-uri": b"GET http://evil.test/metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    "good-request-for-contrast": b"POST /acme/present HTTP/1.1\r\nHost: x\r\nAuthorization: "
    + AUTH_HEADER
    + b"\r\nContent-Length: "
    + str(len(GOOD_BODY)).encode()
    + b"\r\n\r\n"
    + GOOD_BODY,
}


@pytest.mark.parametrize("data", RAW_REQUESTS.values(), ids=RAW_REQUESTS.keys())
def test_raw_requests_never_500(server: HttpServer, data: bytes) -> None:
    status, _ = raw_request(server.port, data)
    assert status < 500
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("content-length-lies-big", 413),
        ("content-length-negative", 400),
        ("content-length-superscript-digit", 400),
        ("chunked", 400),  # waitress joins the chunks; "{}" lacks fqdn and value
        ("auth-latin1-bytes", 401),
        ("acmedns-latin1-headers", 401),
        ("garbage-request-line", 400),  # a method of control characters: malformed
        ("unknown-method", 405),
        ("very-long-path", 404),
        ("request-line-over-the-cap", 431),
        ("path-traversal", 404),
        ("good-request-for-contrast", 200),
    ],
)
def test_raw_requests_status(server: HttpServer, name: str, status: int) -> None:
    assert raw_request(server.port, RAW_REQUESTS[name])[0] == status


@pytest.mark.parametrize("password", [PASSWORD, "guess"])
def test_a_huge_upload_is_refused_by_its_length_before_it_is_sent(
    server: HttpServer, backend: FakeBackend, password: str
) -> None:
    head = (
        b"POST /acme/present HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + basic(USER, password).encode()
        + b"\r\nContent-Length: 4194304\r\n\r\n"
    )
    status, _ = raw_request(server.port, head)  # the body is never sent
    assert status == 413
    assert backend.calls == []


WRONG_TYPES: list[object] = [None, 1, 1.5, True, [], {}, "", " ", "x" * 300, "\x00", "é"]


def _fuzz_bodies() -> dict[str, object]:
    bodies: dict[str, object] = {}
    templates = {
        "default": {"fqdn": NAME, "value": VALUE},
        "raw": {"domain": "example.test", "token": "t", "keyAuth": "t.k"},
        "acmedns": {"subdomain": "_acme-challenge", "txt": VALUE},
    }
    for mode, template in templates.items():
        for key in template:
            for i, bad in enumerate(WRONG_TYPES):
                bodies[f"{mode}/{key}/{i}"] = {**template, key: bad}
    return bodies


FUZZ = _fuzz_bodies()


@pytest.mark.parametrize("body", FUZZ.values(), ids=FUZZ.keys())
def test_fuzzed_fields_never_500(server: HttpServer, backend: FakeBackend, body: object) -> None:
    r1 = post(server, "/acme/present", json=body, auth=AUTH)
    r2 = post(server, "/update", json=body, headers=api_headers())
    assert r1.status_code < 500
    assert r2.status_code < 500


def test_get_on_httpreq_is_405(server: HttpServer) -> None:
    r = requests.get(server.url + "/acme/present", auth=AUTH, timeout=5)
    assert (r.status_code, r.headers["Allow"]) == (405, "POST")


def test_slow_present_does_not_block_other_requests(
    server: HttpServer, backend: FakeBackend
) -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow_present(fqdn: str, value: str) -> None:
        entered.set()
        release.wait(30)

    backend.present = slow_present  # type: ignore[method-assign]
    results: list[int] = []
    worker = threading.Thread(
        target=lambda: results.append(
            post(
                server, "/acme/present", json={"fqdn": NAME, "value": VALUE}, auth=AUTH
            ).status_code
        )
    )
    worker.start()
    try:
        assert entered.wait(10)
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(server.url + "/metrics", timeout=5).status_code == 200
        assert results == []  # still waiting for "propagation"
    finally:
        release.set()
        worker.join(10)
    assert results == [200]
