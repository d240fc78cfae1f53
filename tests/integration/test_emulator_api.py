"""The emulated TransIP v6 domains/DNS endpoints over a real socket: statuses, texts, zone state."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from ddnsd.emulator.tokens import DEMO_TOKEN
from ddnsd.emulator.zones import default_entries
from ddnsd.model import DnsEntry

DNS = "/domains/example.test/dns"


def call(
    emulator: Any,
    method: str,
    path: str,
    token: str | None,
    body: Any = None,
    raw: bytes | None = None,
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(
        method,
        emulator.api_url + path,
        headers=headers,
        json=body if raw is None else None,
        data=raw,
        timeout=10,
    )


def entry(name: str, expire: int, rtype: str, content: str) -> dict[str, Any]:
    return {"dnsEntry": {"name": name, "expire": expire, "type": rtype, "content": content}}


@pytest.fixture
def token(emulator: Any) -> str:
    return str(emulator.token())


def test_api_test_answers_pong(emulator: Any, token: str) -> None:
    r = call(emulator, "GET", "/api-test", token)
    assert (r.status_code, r.json()) == (200, {"ping": "pong"})
    assert r.headers["Content-Type"] == "application/json"


def test_domains_start_with_foreign_entries(emulator: Any, token: str) -> None:
    r = call(emulator, "GET", DNS, token)
    assert r.status_code == 200
    got = [DnsEntry(**e) for e in r.json()["dnsEntries"]]
    assert got == default_entries("example.test")
    assert emulator.entries("other.test") == default_entries("other.test")


ERRORS = [
    ("GET", "/domains/nope.test/dns", None, 404, "Domain with name 'nope.test' not found"),
    ("GET", "/domains/nope.test", None, 404, "Domain with name 'nope.test' not found"),
    (
        "GET",
        "/domains/power-ranger$.nl/dns",
        None,
        406,
        "This is not a valid domain name: 'power-ranger$.nl'",
    ),
    (
        "POST",
        "/domains/power-ranger$.nl/dns",
        entry("www", 300, "A", "192.0.2.1"),
        406,
        "This is not a valid domain name: 'power-ranger$.nl'",
    ),
    ("POST", DNS, entry("www", 300, "B", "192.0.2.1"), 406, "Invalid DNS entry type 'B'"),
    ("PATCH", DNS, entry("test", 300, "B", "x"), 406, "Invalid DNS entry type 'B'"),
    (
        "PATCH",
        DNS,
        entry("test", 300, "A", "192.0.2.1"),
        406,
        "Could not find match for DNS entry 'test 300 A'",
    ),
    (
        "PATCH",
        DNS,
        entry("mail", 60, "A", "192.0.2.1"),
        406,
        "Could not find match for DNS entry 'mail 60 A'",
    ),
    ("DELETE", DNS, entry("mail", 3600, "A", "192.0.2.99"), 404, "DNS Entry not found"),
    ("DELETE", DNS, entry("mail", 60, "A", "198.51.100.25"), 404, "DNS Entry not found"),
    (
        "POST",
        DNS,
        entry("mail", 3600, "A", "198.51.100.25"),
        406,
        "The DNS entry 'mail 3600 A 198.51.100.25' already exists",
    ),
    (
        "POST",
        DNS,
        entry("mail", 300, "A", "198.51.100.26"),
        406,
        "Entries with the same name and type must share one expire: 'mail A' uses 3600",
    ),
    ("POST", DNS, {}, 406, "Missing required parameter 'dnsEntry'"),
    ("POST", DNS, {"dnsEntry": "x"}, 406, "Missing required parameter 'dnsEntry'"),
    (
        "POST",
        DNS,
        {"dnsEntry": {"name": "a", "expire": 60, "type": "A"}},
        406,
        "Missing required parameter 'dnsEntry.content'",
    ),
    (
        "POST",
        DNS,
        entry("a", 60, "A", "2001:db8::1"),
        406,
        "Invalid content '2001:db8::1' for DNS entry type 'A'",
    ),
    (
        "POST",
        DNS,
        entry("a", 60, "AAAA", "192.0.2.1"),
        406,
        "Invalid content '192.0.2.1' for DNS entry type 'AAAA'",
    ),
    ("POST", DNS, entry("a b", 60, "A", "192.0.2.1"), 406, "Invalid DNS entry name 'a b'"),
    ("POST", DNS, entry("a", -5, "A", "192.0.2.1"), 406, "Invalid expire '-5' for DNS entry 'a'"),
    ("PUT", DNS, {}, 406, "Missing required parameter 'dnsEntries'"),
    (
        "PUT",
        DNS,
        {"dnsEntries": [entry("a", 60, "A", "192.0.2.1")["dnsEntry"], {"name": "b"}]},
        406,
        "Missing required parameter 'dnsEntries[1].expire'",
    ),
    (
        "PUT",
        DNS,
        {
            "dnsEntries": [
                entry("a", 60, "A", "192.0.2.1")["dnsEntry"],
                entry("a", 300, "A", "192.0.2.2")["dnsEntry"],
            ]
        },
        406,
        "Entries with the same name and type must share one expire: 'a A' uses 60",
    ),
    ("POST", "/domains/b.test", {}, 405, "Method POST is not allowed on /v6/domains/{domain}"),
    ("PUT", "/domains/example.test", {}, 406, "Missing required parameter 'domain'"),
    ("DELETE", "/api-test", None, 405, "Method DELETE is not allowed on /v6/api-test"),
    ("POST", "/domains", {}, 405, "Method POST is not allowed on /v6/domains"),
    ("GET", "/vps", None, 404, "Resource '/v6/vps' not found"),
    ("GET", "/domains?pageSize=0", None, 406, "pageSize and page must be positive integers"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    ERRORS,
    ids=[f"{m}{p}/{s}/{msg[:40]}" for m, p, _, s, msg in ERRORS],
)
def test_error_status_and_text(
    emulator: Any, token: str, method: str, path: str, body: Any, status: int, message: str
) -> None:
    r = call(emulator, method, path, token, body)
    assert (r.status_code, r.json()) == (status, {"error": message})
    assert r.headers["X-Rate-Limit-Limit"] == "1000"
    assert emulator.entries("example.test") == default_entries("example.test")


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"{not json", 422, "The request body is not valid JSON"),
        (b"[1, 2]", 422, "The request body must be a JSON object"),
    ],
    ids=["malformed", "not-an-object"],
)
def test_malformed_json_is_422(
    emulator: Any, token: str, raw: bytes, status: int, message: str
) -> None:
    r = call(emulator, "POST", DNS, token, raw=raw)
    assert r.status_code == status
    assert r.json()["error"].startswith(message)


def test_unknown_api_version_is_400(emulator: Any, token: str) -> None:
    r = requests.get(
        emulator.base_url + "/v5/domains", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 400
    assert "API version or URL is invalid" in r.json()["error"]


def test_patch_with_multiple_matches_is_406(emulator: Any, token: str) -> None:
    emulator.seed_entry("example.test", DnsEntry("test", 300, "A", "192.0.2.1"))
    emulator.seed_entry("example.test", DnsEntry("test", 300, "A", "192.0.2.2"))
    r = call(emulator, "PATCH", DNS, token, entry("test", 300, "A", "192.0.2.3"))
    assert (r.status_code, r.json()) == (
        406,
        {"error": "Multiple matches found for DNS entry 'test 300 A'"},
    )


def test_post_patch_delete_round_trip(emulator: Any, token: str) -> None:
    r = call(emulator, "POST", DNS, token, entry("home", 300, "A", "192.0.2.1"))
    assert (r.status_code, r.content) == (201, b"")
    r = call(emulator, "PATCH", DNS, token, entry("home", 300, "A", "192.0.2.7"))
    assert (r.status_code, r.content) == (204, b"")
    assert DnsEntry("home", 300, "A", "192.0.2.7") in emulator.entries("example.test")
    assert DnsEntry("home", 300, "A", "192.0.2.1") not in emulator.entries("example.test")
    r = call(emulator, "DELETE", DNS, token, entry("home", 300, "A", "192.0.2.7"))
    assert (r.status_code, r.content) == (204, b"")
    assert emulator.entries("example.test") == default_entries("example.test")
    assert emulator.entries("other.test") == default_entries("other.test")


def test_second_value_at_one_name_shares_the_expire(emulator: Any, token: str) -> None:
    for value in ("token-1", "token-2"):
        r = call(emulator, "POST", DNS, token, entry("_acme-challenge", 60, "TXT", value))
        assert r.status_code == 201, r.text
    txt = [e for e in emulator.entries("example.test") if e.name == "_acme-challenge"]
    assert txt == [
        DnsEntry("_acme-challenge", 60, "TXT", "token-1"),
        DnsEntry("_acme-challenge", 60, "TXT", "token-2"),
    ]


def test_delete_removes_one_of_duplicates(emulator: Any, token: str) -> None:
    dup = DnsEntry("dup", 60, "TXT", "same")
    emulator.seed_entry("example.test", dup)
    emulator.seed_entry("example.test", dup)
    r = call(emulator, "DELETE", DNS, token, entry("dup", 60, "TXT", "same"))
    assert r.status_code == 204
    assert emulator.entries("example.test").count(dup) == 1


def test_names_are_stored_lower_case(emulator: Any, token: str) -> None:
    r = call(
        emulator, "POST", "/domains/Example.TEST/dns", token, entry("Home", 300, "A", "192.0.2.1")
    )
    assert r.status_code == 201
    assert DnsEntry("home", 300, "A", "192.0.2.1") in emulator.entries("example.test")


def test_put_replaces_the_whole_zone(emulator: Any, token: str) -> None:
    new = [entry("a", 60, "A", "192.0.2.1")["dnsEntry"], entry("b", 60, "TXT", "x")["dnsEntry"]]
    r = call(emulator, "PUT", DNS, token, {"dnsEntries": new})
    assert (r.status_code, r.content) == (204, b"")
    assert emulator.entries("example.test") == [
        DnsEntry("a", 60, "A", "192.0.2.1"),
        DnsEntry("b", 60, "TXT", "x"),
    ]
    assert emulator.entries("other.test") == default_entries("other.test")


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [
        ("POST", entry("home", 300, "A", "192.0.2.1"), 201),
        ("PATCH", entry("mail", 3600, "A", "192.0.2.1"), 204),
        ("DELETE", entry("mail", 3600, "A", "198.51.100.25"), 204),
        ("PUT", {"dnsEntries": []}, 204),
    ],
    ids=["post", "patch", "delete", "put"],
)
def test_test_parameter_validates_without_applying(
    emulator: Any, token: str, method: str, body: Any, status: int
) -> None:
    r = call(emulator, method, DNS + "?test=1", token, body)
    assert r.status_code == status, r.text
    assert emulator.entries("example.test") == default_entries("example.test")


def test_test_parameter_still_validates(emulator: Any, token: str) -> None:
    r = call(emulator, "POST", DNS + "?test=1", token, entry("x", 60, "B", "y"))
    assert (r.status_code, r.json()) == (406, {"error": "Invalid DNS entry type 'B'"})


def test_demo_token_is_the_demo_user_in_test_mode(emulator: Any) -> None:
    r = call(emulator, "GET", "/api-test", DEMO_TOKEN)
    assert r.json() == {"ping": "pong"}
    r = call(emulator, "POST", DNS, DEMO_TOKEN, entry("home", 300, "A", "192.0.2.1"))
    assert r.status_code == 201
    r = call(emulator, "DELETE", DNS, DEMO_TOKEN, entry("mail", 3600, "A", "198.51.100.25"))
    assert r.status_code == 204
    assert emulator.entries("example.test") == default_entries("example.test")
    r = call(emulator, "DELETE", DNS, DEMO_TOKEN, entry("nope", 3600, "A", "198.51.100.25"))
    assert (r.status_code, r.json()) == (404, {"error": "DNS Entry not found"})


def test_read_only_token_cannot_write(emulator: Any) -> None:
    ro = emulator.token(read_only=True)
    assert call(emulator, "GET", DNS, ro).status_code == 200
    for method, body in [
        ("POST", entry("home", 300, "A", "192.0.2.1")),
        ("PATCH", entry("mail", 3600, "A", "192.0.2.1")),
        ("DELETE", entry("mail", 3600, "A", "198.51.100.25")),
        ("PUT", {"dnsEntries": []}),
    ]:
        r = call(emulator, method, DNS, ro, body)
        assert r.status_code == 403, method
        assert "read-only access token" in r.json()["error"]
    assert emulator.entries("example.test") == default_entries("example.test")


def test_get_domain(emulator: Any, token: str) -> None:
    r = call(emulator, "GET", "/domains/example.test", token)
    domain = r.json()["domain"]
    assert domain["name"] == "example.test"
    assert domain["canEditDns"] is True
    assert "nameservers" not in domain
    r = call(emulator, "GET", "/domains/example.test?include=nameservers", token)
    host, _ = emulator.dns_address
    assert r.json()["domain"]["nameservers"] == [
        {"hostname": "ns0.example.test", "ipv4": host, "ipv6": ""},
        {"hostname": "ns1.example.test", "ipv4": host, "ipv6": ""},
    ]


def test_domains_pagination(emulator_factory: Any) -> None:
    emu = emulator_factory(domains=["a.test", "b.test", "c.test"])
    token = emu.token()
    base = emu.api_url + "/domains"

    def page(query: str) -> dict[str, Any]:
        r = call(emu, "GET", "/domains" + query, token)
        assert r.status_code == 200
        return dict(r.json())

    everything = page("")
    assert [d["name"] for d in everything["domains"]] == ["a.test", "b.test", "c.test"]
    assert "_links" not in everything
    first = page("?pageSize=2")
    assert [d["name"] for d in first["domains"]] == ["a.test", "b.test"]
    assert first["_links"] == {
        "pages": [
            {"rel": "next", "link": f"{base}?pageSize=2&page=2"},
            {"rel": "last", "link": f"{base}?pageSize=2&page=2"},
        ]
    }
    last = page("?pageSize=2&page=2")
    assert [d["name"] for d in last["domains"]] == ["c.test"]
    assert last["_links"] == {
        "pages": [
            {"rel": "first", "link": f"{base}?pageSize=2&page=1"},
            {"rel": "previous", "link": f"{base}?pageSize=2&page=1"},
        ]
    }
    middle = page("?pageSize=1&page=2")
    assert [p["rel"] for p in middle["_links"]["pages"]] == ["first", "previous", "next", "last"]
    assert page("?pageSize=5")["_links"] == {"pages": []}
    assert page("?pageSize=2&page=9")["domains"] == []
    # following "next" links visits every domain once
    names, url = [], f"{base}?pageSize=1"
    while url:
        body = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        names += [d["name"] for d in body["domains"]]
        url = next((p["link"] for p in body["_links"]["pages"] if p["rel"] == "next"), "")
    assert names == ["a.test", "b.test", "c.test"]


def test_rate_limit_headers_and_429(emulator_factory: Any, rsa_keypair: Any) -> None:
    pem = rsa_keypair.public_pem
    emu = emulator_factory(rate_limit=3, users={"demo": pem, "alice": pem})
    token = emu.token()
    remaining = []
    for _ in range(3):
        r = call(emu, "GET", "/api-test", token)
        assert r.status_code == 200
        remaining.append(r.headers["X-Rate-Limit-Remaining"])
        assert r.headers["X-Rate-Limit-Limit"] == "3"
    assert remaining == ["2", "1", "0"]
    r = call(emu, "GET", "/api-test", token)
    assert r.status_code == 429
    assert r.json()["error"].startswith("Rate limit of 3 requests per 15 minutes exceeded")
    assert r.headers["X-Rate-Limit-Remaining"] == "0"
    assert int(r.headers["X-Rate-Limit-Reset"]) > 0
    # the window is per login: alice still has her full budget
    alice = emu.token(login="alice")
    r = call(emu, "GET", "/api-test", alice)
    assert (r.status_code, r.headers["X-Rate-Limit-Remaining"]) == (200, "2")
    # a 429 is not counted in stats as a success
    assert emu.request_count("GET", "/v6/api-test") == 5


def test_error_responses_carry_rate_limit_headers(emulator: Any) -> None:
    for r in (
        call(emulator, "GET", "/api-test", None),
        call(emulator, "GET", "/api-test", "garbage"),
        requests.get(emulator.api_url + "/auth", timeout=10),
    ):
        assert r.status_code in (401, 405)
        assert {"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} <= set(
            r.headers
        )


def test_stats_count_by_method_template_and_status(emulator: Any, token: str) -> None:
    call(emulator, "GET", DNS, token)
    call(emulator, "GET", "/domains/other.test/dns", token)
    call(emulator, "GET", "/domains/nope.test/dns", token)
    emulator.state()  # control endpoints are not counted
    rows = {(r["method"], r["path"], r["status"]): r["count"] for r in emulator.stats()["requests"]}
    assert rows == {
        ("POST", "/v6/auth", 201): 1,
        ("GET", "/v6/domains/{domain}/dns", 200): 2,
        ("GET", "/v6/domains/{domain}/dns", 404): 1,
    }
    assert emulator.stats()["total"] == 4
    assert emulator.request_count() == 4
    assert emulator.request_count("GET") == 3
    emulator.reset()
    assert emulator.stats() == {"requests": [], "total": 0}


def test_reset_restores_zones(emulator: Any, token: str) -> None:
    call(emulator, "POST", DNS, token, entry("home", 300, "A", "192.0.2.1"))
    emulator.seed_entry("other.test", DnsEntry("x", 60, "TXT", "y"))
    emulator.reset()
    assert emulator.entries("example.test") == default_entries("example.test")
    assert emulator.entries("other.test") == default_entries("other.test")
    # tokens survive a reset
    assert call(emulator, "GET", "/api-test", token).status_code == 200


def test_one_log_line_per_request_without_secrets(
    emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ddnsd.emulator")
    raw, sig = emulator.signed_auth_body()
    r = requests.post(emulator.api_url + "/auth", data=raw, headers={"Signature": sig}, timeout=10)
    token = r.json()["token"]
    call(emulator, "GET", DNS, token)
    lines = [rec.getMessage() for rec in caplog.records if rec.name.startswith("ddnsd.emulator")]
    assert any(line.startswith("POST /v6/auth 201 ") for line in lines)
    assert any(line.startswith("GET /v6/domains/example.test/dns 200 ") for line in lines)
    text = "\n".join(lines)
    assert token not in text
    assert token.split(".")[2] not in text
    assert sig not in text
