"""The TransIP client against the local emulator, over real sockets.

Every assertion is about what a user would see: the emulator's zone afterwards, how many
requests reached it (its own stats), and the exact error sentence.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import ddnsd
from ddnsd.errors import (
    ApiDeferred,
    ConfigError,
    TransipAuthError,
    TransipError,
    TransipForbidden,
    TransipNotAcceptable,
    TransipNotFound,
    TransipRateLimited,
    TransipServerError,
    TransipUnavailable,
)
from ddnsd.model import DnsEntry
from ddnsd.statedir import StateDir
from ddnsd.transip.auth import KeyAuth, StaticTokenAuth
from ddnsd.transip.budget import DDNS, Budget
from ddnsd.transip.client import TransipClient, make_client
from ddnsd.transip.transport import Transport

if TYPE_CHECKING:
    from conftest import EmulatorFactory, EmulatorHandle

DNS = "/v6/domains/{domain}/dns"
FOREIGN = DnsEntry("mail", 3600, "A", "198.51.100.25")


@dataclass
class Recorder:
    """An observer that remembers every (method, path template, status)."""

    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def __call__(self, method: str, path: str, status: int, seconds: float) -> None:
        assert seconds >= 0
        self.calls.append((method, path, status))


def client_for(emu: EmulatorHandle, **kw: Any) -> TransipClient:
    kw = {"backoff_base": 0.01, "backoff_cap": 0.05, **kw}  # quick retries; policy unit-tested
    return make_client(emu.api_url, emu.login, emu.private_key_path, kind=DDNS, **kw)


@pytest.fixture
def client(emulator: EmulatorHandle) -> Iterator[TransipClient]:
    with client_for(emulator) as c:
        yield c


# ----------------------------------------------------------------------------- happy path


def test_signed_auth_then_api_test(emulator: EmulatorHandle) -> None:
    seen = Recorder()
    client = client_for(emulator, observer=seen)
    assert client.api_test() == "pong"
    assert seen.calls == [("POST", "/auth", 201), ("GET", "/api-test", 200)]
    assert client.request_count == 2
    assert emulator.request_count("POST", "/v6/auth") == 1
    (token,) = emulator.tokens()
    assert token["login"] == "demo"
    assert token["label"].startswith("ddnsd-")
    assert token["global_key"] is True and token["read_only"] is False
    assert token["exp"] - token["iat"] == 3600  # "1 hour"
    expires = client.auth.expires_at()
    assert expires is not None and expires > time.time() + 3000
    assert client.rate_limit.limit == 1000 and client.rate_limit.remaining == 999


def test_list_domains_unpaged_and_paged(emulator_factory: EmulatorFactory) -> None:
    domains = ["a.test", "b.test", "c.test", "d.test", "e.test"]
    emu = emulator_factory(domains=domains)
    client = client_for(emu)
    assert client.list_domains() == domains
    assert emu.request_count("GET", "/v6/domains") == 1
    assert client.list_domains(page_size=2) == domains
    assert emu.request_count("GET", "/v6/domains") == 1 + 3
    assert client.list_domains(page_size=5) == domains
    assert emu.request_count("GET", "/v6/domains") == 1 + 3 + 1


def test_list_add_update_delete(emulator: EmulatorHandle, client: TransipClient) -> None:
    before = emulator.entries("example.test")
    assert client.list_dns_entries("example.test") == before
    assert FOREIGN in before

    home = DnsEntry("home", 300, "A", "192.0.2.1")
    client.add_dns_entry("example.test", home)
    assert emulator.entries("example.test") == [*before, home]

    moved = DnsEntry("home", 300, "A", "192.0.2.2")
    client.update_dns_entry("example.test", moved)
    assert emulator.entries("example.test") == [*before, moved]
    assert client.list_dns_entries("example.test") == [*before, moved]

    client.delete_dns_entry("example.test", moved)
    assert emulator.entries("example.test") == before
    assert emulator.entries("other.test") == client.list_dns_entries("other.test")


def test_multiple_txt_values_added_and_one_removed(
    emulator: EmulatorHandle, client: TransipClient
) -> None:
    a = DnsEntry("_acme-challenge", 60, "TXT", "value-a")
    b = DnsEntry("_acme-challenge", 60, "TXT", "value-b")
    client.add_dns_entry("example.test", a)
    client.add_dns_entry("example.test", b)
    client.delete_dns_entry("example.test", a)
    txt = [e for e in emulator.entries("example.test") if e.name == "_acme-challenge"]
    assert txt == [b]


# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorCase:
    id: str
    call: Callable[[TransipClient], object]
    cls: type[TransipError]
    status: int
    method: str
    path: str
    message: str
    seed: tuple[DnsEntry, ...] = ()


TEST_300_A = DnsEntry("test", 300, "A", "192.0.2.9")

ERRORS = [
    ErrorCase(
        "list/unknown-domain",
        lambda c: c.list_dns_entries("nope.test"),
        TransipNotFound,
        404,
        "GET",
        "/domains/nope.test/dns",
        "Domain with name 'nope.test' not found",
    ),
    ErrorCase(
        "list/invalid-domain-name",
        lambda c: c.list_dns_entries("power-ranger$.nl"),
        TransipNotAcceptable,
        406,
        "GET",
        "/domains/power-ranger$.nl/dns",
        "This is not a valid domain name: 'power-ranger$.nl'",
    ),
    ErrorCase(
        "add/invalid-type",
        lambda c: c.add_dns_entry("example.test", DnsEntry("x", 300, "B", "y")),
        TransipNotAcceptable,
        406,
        "POST",
        "/domains/example.test/dns",
        "Invalid DNS entry type 'B'",
    ),
    ErrorCase(
        "add/unknown-domain",
        lambda c: c.add_dns_entry("nope.test", TEST_300_A),
        TransipNotFound,
        404,
        "POST",
        "/domains/nope.test/dns",
        "Domain with name 'nope.test' not found",
    ),
    ErrorCase(
        "add/identical-entry-exists",
        lambda c: c.add_dns_entry("example.test", FOREIGN),
        TransipNotAcceptable,
        406,
        "POST",
        "/domains/example.test/dns",
        "The DNS entry 'mail 3600 A 198.51.100.25' already exists",
    ),
    ErrorCase(
        "add/other-expire-for-same-name-and-type",
        lambda c: c.add_dns_entry("example.test", DnsEntry("mail", 60, "A", "198.51.100.26")),
        TransipNotAcceptable,
        406,
        "POST",
        "/domains/example.test/dns",
        "Entries with the same name and type must share one expire: 'mail A' uses 3600",
    ),
    ErrorCase(
        "patch/no-match",
        lambda c: c.update_dns_entry("example.test", TEST_300_A),
        TransipNotAcceptable,
        406,
        "PATCH",
        "/domains/example.test/dns",
        "Could not find match for DNS entry 'test 300 A'",
    ),
    ErrorCase(
        "patch/multiple-matches",
        lambda c: c.update_dns_entry("example.test", TEST_300_A),
        TransipNotAcceptable,
        406,
        "PATCH",
        "/domains/example.test/dns",
        "Multiple matches found for DNS entry 'test 300 A'",
        seed=(DnsEntry("test", 300, "A", "192.0.2.1"), DnsEntry("test", 300, "A", "192.0.2.2")),
    ),
    ErrorCase(
        "patch/invalid-type",
        lambda c: c.update_dns_entry("example.test", DnsEntry("x", 300, "B", "y")),
        TransipNotAcceptable,
        406,
        "PATCH",
        "/domains/example.test/dns",
        "Invalid DNS entry type 'B'",
    ),
    ErrorCase(
        "delete/not-found",
        lambda c: c.delete_dns_entry("example.test", TEST_300_A),
        TransipNotFound,
        404,
        "DELETE",
        "/domains/example.test/dns",
        "DNS Entry not found",
    ),
    ErrorCase(
        "delete/unknown-domain",
        lambda c: c.delete_dns_entry("nope.test", TEST_300_A),
        TransipNotFound,
        404,
        "DELETE",
        "/domains/nope.test/dns",
        "Domain with name 'nope.test' not found",
    ),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c.id for c in ERRORS])
def test_error_status_and_text(emulator: EmulatorHandle, case: ErrorCase) -> None:
    for entry in case.seed:
        emulator.seed_entry("example.test", entry)
    client = client_for(emulator)
    before = emulator.state()
    with pytest.raises(case.cls) as caught:
        case.call(client)
    err = caught.value
    assert (err.status, err.message, err.method, err.path) == (
        case.status,
        case.message,
        case.method,
        case.path,
    )
    assert str(err) == f"TransIP {case.method} {case.path}: {case.status} {case.message}"
    assert emulator.state() == before
    assert emulator.request_count() == 2  # /auth + the call: client errors are not retried


def test_read_only_token_cannot_write(emulator: EmulatorHandle) -> None:
    transport = Transport(emulator.api_url)
    auth = KeyAuth(transport, "demo", emulator.private_key_path, read_only=True)
    client = TransipClient(transport, auth, kind=DDNS)
    assert client.list_dns_entries("example.test")  # reads are fine
    with pytest.raises(TransipForbidden) as caught:
        client.add_dns_entry("example.test", TEST_300_A)
    assert str(caught.value) == (
        "TransIP POST /domains/example.test/dns: 403 This is a read-only access token; "
        "it cannot modify DNS entries"
    )
    assert TEST_300_A not in emulator.entries("example.test")


def _other_key(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "other.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def test_auth_with_the_wrong_key(emulator: EmulatorHandle, tmp_path: Path) -> None:
    client = make_client(emulator.api_url, "demo", _other_key(tmp_path), kind=DDNS)
    with pytest.raises(TransipAuthError) as caught:
        client.api_test()
    assert str(caught.value) == (
        "TransIP refused the key for login 'demo': 401 Invalid API signature. "
        "Is private_key_file the key generated for this login?"
    )
    assert caught.value.status == 401 and caught.value.message == "Invalid API signature"
    assert emulator.request_count("GET") == 0


def test_auth_with_an_unknown_login(emulator: EmulatorHandle) -> None:
    client = make_client(emulator.api_url, "nobody", emulator.private_key_path, kind=DDNS)
    with pytest.raises(TransipAuthError) as caught:
        client.api_test()
    assert str(caught.value) == (
        "TransIP refused the key for login 'nobody': 401 Unknown login 'nobody'. "
        "Check login and private_key_file: both must belong to the same TransIP account."
    )


def test_auth_with_a_bad_expiration_time(emulator: EmulatorHandle) -> None:
    client = make_client(
        emulator.api_url, "demo", emulator.private_key_path, expiration_time="2 months", kind=DDNS
    )
    with pytest.raises(TransipNotAcceptable) as caught:
        client.api_test()
    assert str(caught.value) == (
        "TransIP refused the access-token request for login 'demo': 406 Invalid "
        "expiration_time '2 months': use e.g. '3600 seconds', '1 hour' or '1 week' "
        "(at most 1 month)"
    )


def test_key_problems_surface_before_any_request(emulator: EmulatorHandle, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_bytes(emulator.private_key_path.read_bytes())
    key.chmod(0o644)
    with pytest.raises(ConfigError, match=r"mode 0644\): run 'chmod 600 "):
        make_client(emulator.api_url, "demo", key, kind=DDNS)
    client = make_client(emulator.api_url, "demo", key, insecure_key_permissions=True, kind=DDNS)
    assert client.api_test() == "pong"
    with pytest.raises(ConfigError, match=r"private_key_file .*access_token_file"):
        make_client(emulator.api_url, "demo", None, kind=DDNS)


def test_unreachable_api_is_retried_then_fails(tmp_path: Path, emulator: EmulatorHandle) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(emulator.token())
    api_url = emulator.api_url
    emulator.emulator.stop()  # nobody listens any more
    seen = Recorder()
    client = make_client(
        api_url,
        "demo",
        None,
        access_token_file=token_file,
        observer=seen,
        max_retries=2,
        backoff_base=0.01,
        kind=DDNS,
    )
    with pytest.raises(TransipUnavailable) as caught:
        client.list_dns_entries("example.test")
    assert str(caught.value) == (
        "TransIP GET /domains/example.test/dns: connection refused (tried 3 times). "
        f"Is api_url ({api_url}) reachable?"
    )
    # a refused connection never reached TransIP, so even a POST may be repeated
    with pytest.raises(TransipUnavailable, match="connection refused"):
        client.add_dns_entry("example.test", TEST_300_A)
    assert [s for _, _, s in seen.calls] == [0] * 6
    assert client.request_count == 6


def test_unreachable_auth(tmp_path: Path, emulator: EmulatorHandle) -> None:
    api_url = emulator.api_url
    emulator.emulator.stop()
    client = make_client(
        api_url, "demo", emulator.private_key_path, max_retries=2, backoff_base=0.01, kind=DDNS
    )
    with pytest.raises(TransipUnavailable) as caught:
        client.api_test()
    assert str(caught.value) == (
        "TransIP POST /auth: no access token for login 'demo': connection refused. "
        f"Is api_url ({api_url}) reachable?"
    )
    assert client.request_count == 3  # /auth tried 3 times, the call never sent


def test_failed_auth_is_retried_like_the_call(emulator: EmulatorHandle) -> None:
    seen = Recorder()
    client = client_for(emulator, observer=seen)
    emulator.script_faults([{"kind": "500", "method": "POST", "path": "/v6/auth"}])
    client.add_dns_entry("example.test", TEST_300_A)
    assert emulator.entries("example.test").count(TEST_300_A) == 1
    assert seen.calls == [
        ("POST", "/auth", 500),
        ("POST", "/auth", 201),
        ("POST", "/domains/{domain}/dns", 201),
    ]


# ----------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("409", "GET"),
        ("500", "GET"),
        ("lost", "GET"),
        ("409", "POST"),
        ("409", "PATCH"),
        ("500", "PATCH"),
        ("lost", "PATCH"),
        ("409", "DELETE"),
        ("500", "DELETE"),
        ("lost", "DELETE"),
    ],
    ids=lambda v: str(v),
)
def test_transient_faults_are_retried(emulator: EmulatorHandle, kind: str, method: str) -> None:
    seen = Recorder()
    client = client_for(emulator, observer=seen)
    old = DnsEntry("home", 300, "A", "192.0.2.1")
    new = DnsEntry("home", 300, "A", "192.0.2.2")
    if method in ("PATCH", "DELETE"):
        emulator.seed_entry("example.test", old)
    before = emulator.entries("example.test")
    emulator.script_faults([{"kind": kind, "method": method, "path": DNS}])
    if method == "GET":
        assert client.list_dns_entries("example.test") == before
        expected = before
    elif method == "POST":
        client.add_dns_entry("example.test", new)
        expected = [*before, new]
    elif method == "PATCH":
        client.update_dns_entry("example.test", new)
        expected = [e if e != old else new for e in before]
    else:
        client.delete_dns_entry("example.test", old)
        expected = [e for e in before if e != old]
    assert emulator.entries("example.test") == expected
    assert emulator.request_count(method, DNS) == 2  # the fault, then the retry
    first_status = {"409": 409, "500": 500, "lost": 0}[kind]
    then = {"GET": 200, "POST": 201, "PATCH": 204, "DELETE": 204}[method]
    if (kind, method) == ("lost", "DELETE"):
        then = 404  # the lost attempt removed it: "DNS Entry not found" now means done
    dns_calls = [c for c in seen.calls if c[1] == "/domains/{domain}/dns"]
    assert dns_calls == [
        (method, "/domains/{domain}/dns", first_status),
        (method, "/domains/{domain}/dns", then),
    ]


def test_retries_are_bounded(emulator: EmulatorHandle) -> None:
    client = client_for(emulator, max_retries=2)
    emulator.script_faults([{"kind": "409", "method": "PATCH", "path": DNS}] * 5)
    emulator.seed_entry("example.test", DnsEntry("home", 300, "A", "192.0.2.1"))
    with pytest.raises(TransipError) as caught:
        client.update_dns_entry("example.test", DnsEntry("home", 300, "A", "192.0.2.2"))
    assert caught.value.status == 409
    assert str(caught.value) == (
        "TransIP PATCH /domains/example.test/dns: 409 Error fetching Dns Entries: DNS "
        "Entries are currently being saved. Still failing after 3 attempts; try again later"
    )
    assert emulator.request_count("PATCH", DNS) == 3


def test_lost_post_is_not_retried(emulator: EmulatorHandle) -> None:
    seen = Recorder()
    client = client_for(emulator, observer=seen)
    entry = DnsEntry("_acme-challenge", 60, "TXT", "token-value")
    emulator.script_faults([{"kind": "lost", "method": "POST", "path": DNS}])
    with pytest.raises(TransipUnavailable) as caught:
        client.add_dns_entry("example.test", entry)
    assert str(caught.value) == (
        "TransIP POST /domains/example.test/dns: the connection was dropped before an "
        "answer arrived, so TransIP may or may not have applied it. Re-read the zone "
        "before trying again"
    )
    assert emulator.request_count("POST", DNS) == 1
    assert emulator.entries("example.test").count(entry) == 1  # applied, exactly once
    assert ("POST", "/domains/{domain}/dns", 0) in seen.calls


def test_post_answered_with_500_is_not_retried(emulator: EmulatorHandle) -> None:
    client = client_for(emulator)
    emulator.script_faults([{"kind": "500", "method": "POST", "path": DNS}])
    with pytest.raises(TransipServerError) as caught:
        client.add_dns_entry("example.test", TEST_300_A)
    assert str(caught.value) == (
        "TransIP POST /domains/example.test/dns: 500 Internal server error. TransIP may "
        "have applied it anyway; re-read the zone before trying again"
    )
    assert emulator.request_count("POST", DNS) == 1


def test_post_timeout_is_not_retried(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(slow_seconds=1.0)
    client = client_for(emu, timeout=0.3)
    client.api_test()  # token first, so only the POST meets the slow answer
    emu.script_faults([{"kind": "slow", "method": "POST", "path": DNS}])
    with pytest.raises(TransipUnavailable, match=r"no answer within 0\.3 s, so TransIP may"):
        client.add_dns_entry("example.test", TEST_300_A)
    deadline = time.monotonic() + 10
    while emu.request_count("POST", DNS) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the emulator finishes the slow request after we gave up
    assert emu.request_count("POST", DNS) == 1
    assert emu.entries("example.test").count(TEST_300_A) == 1


def test_get_timeout_is_retried(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(slow_seconds=1.0)
    client = client_for(emu, timeout=0.3)
    emu.script_faults([{"kind": "slow", "method": "GET", "path": DNS}])
    assert client.list_dns_entries("example.test") == emu.entries("example.test")


# ----------------------------------------------------------------------------- rate limit


def test_rate_limit_exceeded(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(rate_limit=3)
    client = client_for(emu)
    for _ in range(3):
        client.api_test()
    assert (client.rate_limit.limit, client.rate_limit.remaining) == (3, 0)
    with pytest.raises(TransipRateLimited) as caught:
        client.api_test()
    err = caught.value
    assert err.status == 429
    assert err.message.startswith("Rate limit of 3 requests per 15 minutes exceeded")
    text = str(err)
    assert text.startswith("TransIP GET /api-test: 429 Rate limit of 3 requests per 15 minutes")
    assert ". The rate-limit window resets at " in text and text.endswith(" s)")
    reset = client.rate_limit.reset
    assert reset is not None and reset > time.time() + 60  # too far to wait for


def test_a_429_is_never_waited_for_or_resent(emulator: EmulatorHandle) -> None:
    """Even a reset seconds away: the call ends with ApiDeferred(until = the reset) and the
    caller decides (the daemon defers, ``once`` exits 3, a hook may wait)."""
    slept: list[float] = []
    client = client_for(emulator, sleep=slept.append)
    emulator.script_faults([{"kind": "ratelimit", "path": "/v6/api-test", "reset": 5}])
    with pytest.raises(ApiDeferred) as caught:
        client.api_test()
    reset = client.rate_limit.reset
    assert reset is not None and caught.value.until == reset + 1
    assert caught.value.kind == "ddns"
    assert str(caught.value).startswith("TransIP GET /api-test: 429 Rate limit of 1000 requests")
    assert slept == []
    assert emulator.request_count("GET", "/v6/api-test") == 1


# ----------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_stale_token_is_renewed_once(emulator: EmulatorHandle, how: str) -> None:
    client = client_for(emulator)
    assert client.api_test() == "pong"
    if how == "expired":
        assert emulator.expire_tokens() == 1
    else:
        assert emulator.revoke(all=True) == 1
    assert client.list_dns_entries("example.test") == emulator.entries("example.test")
    assert emulator.request_count("POST", "/v6/auth") == 2
    assert len(emulator.tokens()) == 2
    assert emulator.request_count("GET", DNS) == 2  # refused, then retried with the new token


class StuckToken:
    """A token source that keeps handing out one (revoked) token."""

    def __init__(self, token: str) -> None:
        self._token = token
        self.invalidated = 0

    def token(self, kind: str) -> str:
        return self._token

    def invalidate(self, token: str) -> None:
        self.invalidated += 1

    def expires_at(self) -> float | None:
        return None


def test_second_refusal_fails_loudly(emulator: EmulatorHandle) -> None:
    source = StuckToken(emulator.token())
    emulator.revoke(all=True)
    client = TransipClient(Transport(emulator.api_url), source, kind=DDNS)
    with pytest.raises(TransipAuthError) as caught:
        client.api_test()
    assert str(caught.value) == (
        "TransIP GET /api-test: 401 Your access token has been revoked; request a new one. "
        "A freshly issued access token was refused as well; check the key and the access "
        "tokens in the TransIP control panel"
    )
    assert source.invalidated == 1
    assert emulator.request_count("GET", "/v6/api-test") == 2


def test_invalid_token_is_renewed_once_then_fails_loudly(emulator: EmulatorHandle) -> None:
    """401 "invalid" (a token TransIP does not know) is worth one new token, like expired
    or revoked; a token source that hands out the same refused token fails loudly."""
    source = StuckToken("not-a-token")
    client = TransipClient(Transport(emulator.api_url), source, kind=DDNS)
    with pytest.raises(TransipAuthError, match="401 Your access token is invalid") as caught:
        client.api_test()
    assert "A freshly issued access token was refused as well" in str(caught.value)
    assert source.invalidated == 1
    assert emulator.request_count() == 2


def test_token_renewed_after_80_percent_of_its_lifetime(emulator: EmulatorHandle) -> None:
    now = [time.time()]
    transport = Transport(emulator.api_url)
    auth = KeyAuth(transport, "demo", emulator.private_key_path, clock=lambda: now[0])
    client = TransipClient(transport, auth, kind=DDNS)
    client.api_test()
    first = auth.token(DDNS)
    now[0] += 0.79 * 3600
    client.api_test()
    assert auth.token(DDNS) == first
    assert emulator.request_count("POST", "/v6/auth") == 1
    now[0] += 0.02 * 3600
    client.api_test()
    assert auth.token(DDNS) != first
    assert emulator.request_count("POST", "/v6/auth") == 2


def test_concurrent_calls_share_one_token_request(emulator: EmulatorHandle) -> None:
    client = client_for(emulator)
    start = threading.Barrier(8)
    answers: list[str] = []

    def call() -> None:
        start.wait()
        answers.append(client.api_test())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == ["pong"] * 8
    assert emulator.request_count("POST", "/v6/auth") == 1
    assert len(emulator.tokens()) == 1


def test_failed_renewal_keeps_using_the_token_until_it_expires(
    emulator: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    now = [time.time()]
    transport = Transport(emulator.api_url)
    auth = KeyAuth(transport, "demo", emulator.private_key_path, clock=lambda: now[0])
    client = TransipClient(transport, auth, max_retries=0, kind=DDNS)
    client.api_test()
    first = auth.token(DDNS)
    now[0] += 0.9 * 3600  # renewal due, 6 minutes of validity left
    emulator.script_faults([{"kind": "500", "method": "POST", "path": "/v6/auth"}])
    assert client.list_dns_entries("example.test") == emulator.entries("example.test")
    assert auth.token(DDNS) != first  # the next call renewed it
    assert emulator.request_count("POST", "/v6/auth") == 3  # first, refused, renewed
    assert "could not renew the TransIP access token" in caplog.text
    now[0] += 1.1 * 3600  # past the renewed token's expiry: nothing left to fall back on
    emulator.script_faults([{"kind": "500", "method": "POST", "path": "/v6/auth"}])
    with pytest.raises(TransipServerError, match="failed to issue an access token"):
        client.api_test()


def test_token_cache_shared_between_processes(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cache = tmp_path / "state"
    one = client_for(emulator, cache_dir=cache)
    two = client_for(emulator, cache_dir=cache)
    assert one.api_test() == "pong"
    assert two.api_test() == "pong"
    assert emulator.request_count("POST", "/v6/auth") == 1
    assert isinstance(one.auth, KeyAuth)
    (cached,) = cache.iterdir()
    assert cached == one.auth.cache_file
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert "demo" not in cached.name  # named by a hash
    assert json.loads(cached.read_text())["token"] == one.auth.token(DDNS)
    # another key (or login, or API) never picks it up
    other = make_client(emulator.api_url, "demo", _other_key(tmp_path), cache_dir=cache, kind=DDNS)
    assert isinstance(other.auth, KeyAuth)
    assert other.auth.cache_file != cached


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"token": 5}', ""],
    ids=["broken-json", "json-list", "wrong-types", "empty"],
)
def test_corrupt_token_cache_is_ignored(
    emulator: EmulatorHandle, tmp_path: Path, content: str
) -> None:
    cache = tmp_path / "state"
    probe = client_for(emulator, cache_dir=cache)
    assert isinstance(probe.auth, KeyAuth) and probe.auth.cache_file is not None
    cache.mkdir()
    probe.auth.cache_file.write_text(content)
    assert probe.api_test() == "pong"
    assert emulator.request_count("POST", "/v6/auth") == 1
    assert json.loads(probe.auth.cache_file.read_text())["token"] == probe.auth.token(DDNS)


def test_revoked_cached_token_is_replaced(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cache = tmp_path / "state"
    client_for(emulator, cache_dir=cache).api_test()
    emulator.revoke(all=True)
    later = client_for(emulator, cache_dir=cache)  # a new hook process
    assert later.api_test() == "pong"
    assert emulator.request_count("POST", "/v6/auth") == 2
    third = client_for(emulator, cache_dir=cache)
    assert third.api_test() == "pong"
    assert emulator.request_count("POST", "/v6/auth") == 2  # the renewed token was cached


def test_cached_token_transip_calls_invalid_is_replaced(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A cached token TransIP no longer knows (its sessions were reset, or the emulator was
    restarted) answers 401 "invalid": one new token, the call goes through, the cache
    holds the new token."""
    cache = tmp_path / "state"
    first = client_for(emulator, cache_dir=cache)
    first.api_test()
    assert isinstance(first.auth, KeyAuth) and first.auth.cache_file is not None
    record = json.loads(first.auth.cache_file.read_text())
    header, payload, signature = record["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["jti"] = "unknown-to-transip"
    forged = ".".join(
        [
            header,
            base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="),
            signature,
        ]
    )
    first.auth.cache_file.write_text(json.dumps({**record, "token": forged}))

    later = client_for(emulator, cache_dir=cache)  # a new hook process
    assert later.api_test() == "pong"
    assert emulator.request_count("POST", "/v6/auth") == 2
    assert json.loads(first.auth.cache_file.read_text())["token"] != forged


def test_static_token_file(emulator: EmulatorHandle, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(emulator.token() + "\n")
    client = make_client(emulator.api_url, "", None, access_token_file=token_file, kind=DDNS)
    assert isinstance(client.auth, StaticTokenAuth)
    assert client.api_test() == "pong"
    assert emulator.request_count("POST", "/v6/auth") == 1  # only the fixture's own
    emulator.revoke(all=True)
    with pytest.raises(TransipAuthError) as caught:
        client.api_test()
    assert str(caught.value) == (
        f"TransIP refused the access token in {token_file} as expired or revoked, and "
        "ddnsd cannot renew a token generated in the control panel: generate a new one "
        f"and write it to {token_file}"
    )
    assert client.auth.problem() == str(caught.value)  # what /readyz shows
    token_file.write_text(emulator.token())  # the user pastes a new one
    assert client.api_test() == "pong"
    assert client.auth.problem() is None


def test_demo_token_is_test_mode(emulator: EmulatorHandle, tmp_path: Path) -> None:
    from ddnsd.emulator.tokens import DEMO_TOKEN

    token_file = tmp_path / "token"
    token_file.write_text(DEMO_TOKEN)
    client = make_client(emulator.api_url, "", None, access_token_file=token_file, kind=DDNS)
    before = emulator.state()
    client.add_dns_entry("example.test", TEST_300_A)
    assert emulator.state() == before


# ----------------------------------------------------------------------------- test mode


def test_test_mode_validates_but_does_not_write(emulator: EmulatorHandle) -> None:
    emulator.seed_entry("example.test", DnsEntry("home", 300, "A", "192.0.2.1"))
    before = emulator.state()
    client = client_for(emulator, test_mode=True)
    client.add_dns_entry("example.test", TEST_300_A)
    client.update_dns_entry("example.test", DnsEntry("home", 300, "A", "192.0.2.2"))
    client.delete_dns_entry("example.test", FOREIGN)
    with pytest.raises(TransipNotAcceptable, match="Invalid DNS entry type 'B'"):
        client.add_dns_entry("example.test", DnsEntry("x", 300, "B", "y"))
    assert emulator.state() == before
    assert client.list_dns_entries("example.test") == emulator.entries("example.test")


# ----------------------------------------------------------------------------- secrets


def test_secrets_never_in_logs_or_errors(
    emulator: EmulatorHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(emulator, cache_dir=tmp_path / "state")
    client.api_test()
    token = client.auth.token(DDNS)
    errors: list[str] = []
    emulator.revoke(all=True)
    client.api_test()  # renewal path logs
    emulator.script_faults([{"kind": "409", "method": "GET", "path": DNS}])
    client.list_dns_entries("example.test")  # retry path logs
    for call in (
        lambda: client.list_dns_entries("nope.test"),
        lambda: client.add_dns_entry("example.test", FOREIGN),
        lambda: make_client(emulator.api_url, "demo", _other_key(tmp_path), kind=DDNS).api_test(),
    ):
        with pytest.raises(TransipError) as caught:
            call()
        errors.append(str(caught.value))
        errors.append(repr(caught.value))
    errors.append(repr(client) + repr(client.auth))
    new_token = client.auth.token(DDNS)
    key_lines = emulator.private_key_path.read_text().splitlines()[1:-1]
    everything = caplog.text + "\n".join(errors)
    for secret in (token, new_token, *key_lines):
        assert secret not in everything
    assert token.split(".")[2] not in everything
    assert "getting a new access token" in caplog.text  # the logs did say something


# ----------------------------------------------------------------------------- headers


class Capture(BaseHTTPRequestHandler):
    """A tiny API stand-in that records request lines and headers (for header checks)."""

    seen: list[tuple[str, str, dict[str, str], bytes]] = []
    rate: dict[str, str] = {}  # X-Rate-Limit-* to send (the fixture sets TransIP-like ones)
    get_body = b""  # what a GET answers (the fixture sets a ping and an empty zone)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        Capture.seen.append((self.command, self.path, dict(self.headers.items()), body))
        if self.command == "GET":
            data = Capture.get_body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            data = b""
            self.send_response(201 if self.command == "POST" else 204)
        self.send_header("Content-Length", str(len(data)))
        for name, value in Capture.rate.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer


@pytest.fixture
def capture() -> Iterator[str]:
    Capture.seen = []
    Capture.get_body = json.dumps({"ping": "pong", "dnsEntries": []}).encode()
    Capture.rate = {
        "X-Rate-Limit-Limit": "1000",
        "X-Rate-Limit-Remaining": "650",
        "X-Rate-Limit-Reset": "1485875578",
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v6"
    server.shutdown()
    server.server_close()


def test_headers_body_and_test_parameter(capture: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("header.payload.sig")
    client = make_client(capture, "", None, access_token_file=token_file, test_mode=True, kind=DDNS)
    client.api_test()
    client.add_dns_entry("example.test", TEST_300_A)
    client.delete_dns_entry("example.test", TEST_300_A)
    (get, post, delete) = Capture.seen
    assert get[0:2] == ("GET", "/v6/api-test")  # reads never carry ?test=1
    assert post[0:2] == ("POST", "/v6/domains/example.test/dns?test=1")
    assert delete[0:2] == ("DELETE", "/v6/domains/example.test/dns?test=1")
    for _, _, headers, _ in Capture.seen:
        assert headers["User-Agent"] == f"ddnsd/{ddnsd.__version__}"
        assert headers["Authorization"] == "Bearer header.payload.sig"
    assert post[2]["Content-Type"] == "application/json"
    assert json.loads(post[3]) == {
        "dnsEntry": {"name": "test", "expire": 300, "type": "A", "content": "192.0.2.9"}
    }
    assert (client.rate_limit.limit, client.rate_limit.remaining) == (1000, 650)
    assert client.rate_limit.reset == 1485875578


@pytest.mark.parametrize("bad", ["inf", "nan", "-Infinity", "1e999"])
def test_rate_limit_headers_that_are_no_number_are_ignored(
    capture: str, tmp_path: Path, bad: str
) -> None:
    """An API (or a proxy) answering X-Rate-Limit-*: inf / nan: the call goes through (no
    OverflowError from int(inf)), the headers count as missing, in the budget too."""
    Capture.rate = {f"X-Rate-Limit-{h}": bad for h in ("Limit", "Remaining", "Reset")}
    token_file = tmp_path / "token"
    token_file.write_text("header.payload.sig")
    budget = Budget(StateDir(tmp_path / "state"), login="(token)", api_url=capture)
    client = make_client(capture, "", None, access_token_file=token_file, budget=budget, kind=DDNS)
    assert client.api_test() == "pong"
    assert client.api_test() == "pong"  # the budget's ledger file was written and read back
    assert (client.rate_limit.limit, client.rate_limit.remaining, client.rate_limit.reset) == (
        None,
        None,
        None,
    )
    assert len(Capture.seen) == 2


def test_a_read_answered_without_a_body_is_one_clear_error(capture: str, tmp_path: Path) -> None:
    Capture.get_body = b""
    token_file = tmp_path / "token"
    token_file.write_text("header.payload.sig")
    client = make_client(capture, "", None, access_token_file=token_file, kind=DDNS)
    with pytest.raises(TransipError) as caught:
        client.list_dns_entries("example.test")
    assert str(caught.value) == (
        "TransIP GET /domains/{domain}/dns: 200 unexpected answer: the body is empty"
    )
    client.add_dns_entry("example.test", TEST_300_A)  # a write's empty 201 is its answer
    assert [seen[0] for seen in Capture.seen] == ["GET", "POST"]


def test_a_failing_observer_never_breaks_a_call(
    capture: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(method: str, path: str, status: int, seconds: float) -> None:
        raise RuntimeError("a metrics bug")

    token_file = tmp_path / "token"
    token_file.write_text("header.payload.sig")
    client = make_client(
        capture, "", None, access_token_file=token_file, observer=broken, kind=DDNS
    )
    assert client.api_test() == "pong"
    assert client.request_count == 1
    assert "the request observer failed" in caplog.text


def test_auth_request_signs_the_exact_bytes_sent(capture: str, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "k.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    os.chmod(path, 0o600)
    auth = KeyAuth(Transport(capture), "demo", path, expiration_time="30 minutes")
    with pytest.raises(TransipError, match="unexpected answer"):
        auth.token(DDNS)  # the capture server answers 201 with an empty body
    ((method, url, headers, body),) = Capture.seen
    assert (method, url) == ("POST", "/v6/auth")
    assert headers["User-Agent"] == f"ddnsd/{ddnsd.__version__}"
    import base64

    key.public_key().verify(
        base64.b64decode(headers["Signature"]), body, padding.PKCS1v15(), hashes.SHA512()
    )
    sent = json.loads(body)
    assert sent["login"] == "demo" and sent["expiration_time"] == "30 minutes"
    assert sent["global_key"] is True
