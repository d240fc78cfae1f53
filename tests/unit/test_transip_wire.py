"""ddnsd.transip.wire: JSON ⇄ model, headers, error bodies and texts (tables only, no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

import ddnsd
from ddnsd.errors import (
    TransipAuthError,
    TransipConflict,
    TransipError,
    TransipForbidden,
    TransipInvalid,
    TransipNotAcceptable,
    TransipNotFound,
    TransipRateLimited,
    TransipServerError,
    TransipUnavailable,
)
from ddnsd.model import DnsEntry
from ddnsd.outbound import USER_AGENT
from ddnsd.transip.wire import (
    RateLimit,
    TransipBadResponse,
    auth_refusal,
    domain_names_from_json,
    dumps,
    entries_from_json,
    entry_to_json,
    error_class,
    error_message,
    is_being_saved,
    is_entry_not_found,
    is_patch_mismatch,
    make_error,
    next_page_query,
    token_from_json,
)

# ----------------------------------------------------------------------------- errors

MESSAGES = [
    (
        "transip-error",
        404,
        b'{"error":"Domain with name \'x.nl\' not found"}',
        "Not Found",
        "Domain with name 'x.nl' not found",
    ),
    ("error-with-spaces", 409, b'{"error":"  being saved  "}', "", "being saved"),
    (
        "json-without-error",
        500,
        b'{"message":"boom"}',
        "Internal Server Error",
        "Internal Server Error",
    ),
    ("html-page", 502, b"<html><body>Bad gateway</body></html>", "Bad Gateway", "Bad Gateway"),
    ("empty-body-no-reason", 503, b"", "", "HTTP 503 without an error message"),
    ("not-utf8", 500, b"\xff\xfe", "", "HTTP 500 without an error message"),
    ("error-not-a-string", 400, b'{"error":{"code":1}}', "Bad Request", "Bad Request"),
]


@pytest.mark.parametrize(
    ("status", "body", "reason", "message"),
    [m[1:] for m in MESSAGES],
    ids=[m[0] for m in MESSAGES],
)
def test_error_message(status: int, body: bytes, reason: str, message: str) -> None:
    assert error_message(status, body, reason) == message


CLASSES: list[tuple[int, type[TransipError]]] = [
    (400, TransipError),
    (401, TransipAuthError),
    (403, TransipForbidden),
    (404, TransipNotFound),
    (405, TransipError),
    (406, TransipNotAcceptable),
    (409, TransipConflict),
    (422, TransipInvalid),
    (429, TransipRateLimited),
    (500, TransipServerError),
    (501, TransipServerError),
    (503, TransipServerError),
]


@pytest.mark.parametrize(("status", "cls"), CLASSES, ids=[str(s) for s, _ in CLASSES])
def test_error_class(status: int, cls: type[TransipError]) -> None:
    assert error_class(status) is cls
    err = make_error(status, "text", method="GET", path="/domains")
    assert type(err) is cls and err.status == status and err.message == "text"
    assert str(err) == f"TransIP GET /domains: {status} text"


SAVING = [
    ("seed-text", "Error fetching Dns Entries: DNS Entries are currently being saved", True),
    ("other-409", "The domain is locked", False),
]


@pytest.mark.parametrize(("message", "saving"), [s[1:] for s in SAVING], ids=[s[0] for s in SAVING])
def test_is_being_saved(message: str, saving: bool) -> None:
    assert is_being_saved(message) is saving


def test_no_answer_is_unavailable() -> None:
    assert error_class(0) is TransipUnavailable
    err = make_error(0, "connection refused", method="GET", path="/domains")
    assert str(err) == "TransIP GET /domains: connection refused"


ENTRY_GONE = [
    ("seed-text", "DNS Entry not found", True),
    ("lower-case", "dns entry not found", True),
    ("unknown-domain", "Domain with name 'nope.test' not found", False),
]


@pytest.mark.parametrize(
    ("message", "gone"), [e[1:] for e in ENTRY_GONE], ids=[e[0] for e in ENTRY_GONE]
)
def test_is_entry_not_found(message: str, gone: bool) -> None:
    assert is_entry_not_found(message) is gone


MISMATCH = [
    ("no-match", "Could not find match for DNS entry 'test 300 A'", True),
    ("multiple-matches", "Multiple matches found for DNS entry 'test 300 A'", True),
    ("invalid-type", "Invalid DNS entry type 'B'", False),
    ("already-exists", "The DNS entry 'mail 3600 A 198.51.100.25' already exists", False),
]


@pytest.mark.parametrize(
    ("message", "mismatch"), [m[1:] for m in MISMATCH], ids=[m[0] for m in MISMATCH]
)
def test_is_patch_mismatch(message: str, mismatch: bool) -> None:
    assert is_patch_mismatch(message) is mismatch


REQUEST = "TransIP refused the access-token request for login 'demo'"
KEY = "TransIP refused the key for login 'demo'"
REFUSALS = [
    # (id, status, message, lead, hint)
    (
        "bad-signature",
        401,
        "Invalid API signature",
        KEY,
        "Is private_key_file the key generated for this login?",
    ),
    (
        "signature-any-status",
        403,
        "Signature mismatch",
        KEY,
        "Is private_key_file the key generated for this login?",
    ),
    (
        "whitelist",
        401,
        "Your IP address is not on the whitelist",
        REQUEST,
        "Set global_key = true, or whitelist this machine's IP address in the TransIP "
        "control panel.",
    ),
    (
        "unknown-login",
        401,
        "Unknown login 'demo'",
        KEY,
        "Check login and private_key_file: both must belong to the same TransIP account.",
    ),
    (
        "rate-limited",
        429,
        "Rate limit exceeded",
        REQUEST,
        "The rate limit of the API is used up; try again after the window resets.",
    ),
    (
        "server-error",
        500,
        "Internal server error",
        "TransIP failed to issue an access token for login 'demo'",
        "Try again later.",
    ),
    ("bad-expiration-time", 406, "Invalid expiration_time '2 months'", REQUEST, ""),
]


@pytest.mark.parametrize(
    ("status", "message", "lead", "hint"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_auth_refusal(status: int, message: str, lead: str, hint: str) -> None:
    assert auth_refusal(status, message, "demo") == (lead, hint)


# ----------------------------------------------------------------------------- JSON


def test_dumps_is_compact_utf8() -> None:
    assert dumps({"a": 1, "b": "é"}) == '{"a":1,"b":"é"}'.encode()


def test_entry_round_trip() -> None:
    entry = DnsEntry("_acme-challenge", 60, "TXT", "abc")
    data = {"dnsEntries": [entry_to_json(entry)]}
    assert entries_from_json(data) == [entry]


ENTRIES_OK: list[tuple[str, dict[str, Any], list[DnsEntry]]] = [
    ("empty-zone", {"dnsEntries": []}, []),
    (
        "seed-shape",
        {"dnsEntries": [{"name": "www", "expire": 86400, "type": "A", "content": "1.2.3.4"}]},
        [DnsEntry("www", 86400, "A", "1.2.3.4")],
    ),
    (
        "expire-as-string/type-lower",
        {"dnsEntries": [{"name": "@", "expire": "300", "type": "aaaa", "content": "::1"}]},
        [DnsEntry("@", 300, "AAAA", "::1")],
    ),
    (
        "extra-fields-ignored",
        {"dnsEntries": [{"name": "a", "expire": 1, "type": "TXT", "content": "x", "id": 7}]},
        [DnsEntry("a", 1, "TXT", "x")],
    ),
]


@pytest.mark.parametrize(
    ("data", "entries"), [e[1:] for e in ENTRIES_OK], ids=[e[0] for e in ENTRIES_OK]
)
def test_entries_from_json(data: dict[str, Any], entries: list[DnsEntry]) -> None:
    assert entries_from_json(data) == entries


ENTRIES_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("no-list", {"domains": []}, "no dnsEntries list"),
    ("list-of-strings", {"dnsEntries": ["www A"]}, "dnsEntries[0] is not an object"),
    (
        "missing-content",
        {"dnsEntries": [{"name": "www", "expire": 1, "type": "A"}]},
        "dnsEntries[0].content is missing or not a string",
    ),
    (
        "expire-not-number",
        {"dnsEntries": [{"name": "www", "expire": "soon", "type": "A", "content": "x"}]},
        "dnsEntries[0].expire is not a number",
    ),
    (
        "expire-bool",
        {"dnsEntries": [{"name": "www", "expire": True, "type": "A", "content": "x"}]},
        "dnsEntries[0].expire is missing or not a number",
    ),
]


@pytest.mark.parametrize(
    ("data", "what"), [e[1:] for e in ENTRIES_BAD], ids=[e[0] for e in ENTRIES_BAD]
)
def test_entries_from_json_refuses_unexpected_shapes(data: dict[str, Any], what: str) -> None:
    with pytest.raises(TransipBadResponse) as caught:
        entries_from_json(data, path="/domains/example.test/dns")
    assert str(caught.value) == (
        f"TransIP GET /domains/example.test/dns: 200 unexpected answer: {what}. "
        "Is api_url the TransIP v6 API (e.g. https://api.transip.nl/v6)?"
    )


def test_domain_names_from_json() -> None:
    data = {"domains": [{"name": "a.nl", "tags": []}, {"name": "b.nl"}]}
    assert domain_names_from_json(data) == ["a.nl", "b.nl"]
    with pytest.raises(TransipBadResponse, match=r"domains\[1\]\.name"):
        domain_names_from_json({"domains": [{"name": "a.nl"}, {}]})


TOKENS: list[tuple[str, dict[str, Any], str]] = [
    ("jwt", {"token": "eyJ0.eyJ1.c2ln"}, "eyJ0.eyJ1.c2ln"),
    ("padded", {"token": "  eyJ0.eyJ1.c2ln\n"}, "eyJ0.eyJ1.c2ln"),
    ("missing", {}, "no token field"),
    ("not-a-string", {"token": 5}, "no token field"),
    ("blank", {"token": "  "}, "no token field"),
    ("not-latin1", {"token": "abc\u2019def"}, "the token is not printable ASCII"),
    ("latin1-letter", {"token": "abc\u00e9"}, "the token is not printable ASCII"),
    ("inner-space", {"token": "abc def"}, "the token is not printable ASCII"),
    ("control-character", {"token": "abc\x7fdef"}, "the token is not printable ASCII"),
]


@pytest.mark.parametrize(("data", "want"), [t[1:] for t in TOKENS], ids=[t[0] for t in TOKENS])
def test_token_from_json(data: dict[str, Any], want: str) -> None:
    """A token that could not go into a header is a bad answer, and never quoted."""
    if want.startswith("eyJ"):
        assert token_from_json(data) == want
        return
    with pytest.raises(TransipBadResponse) as caught:
        token_from_json(data)
    assert str(caught.value).startswith(f"TransIP POST /auth: 201 unexpected answer: {want}.")
    assert "abc" not in str(caught.value)


PAGES: list[tuple[str, dict[str, Any], dict[str, str] | None]] = [
    ("unpaged", {"domains": []}, None),
    (
        "pages-object",
        {
            "_links": {
                "pages": [
                    {"rel": "next", "link": "https://api.transip.nl/v6/domains?page=2&pageSize=2"},
                    {"rel": "last", "link": "https://api.transip.nl/v6/domains?page=3&pageSize=2"},
                ]
            }
        },
        {"page": "2", "pageSize": "2"},
    ),
    (
        "links-list",
        {"_links": [{"rel": "self", "link": "/v6/domains"}, {"rel": "next", "link": "?page=4"}]},
        {"page": "4"},
    ),
    (
        "last-page",
        {"_links": {"pages": [{"rel": "first", "link": "/v6/domains?page=1&pageSize=2"}]}},
        None,
    ),
    ("rel-keyed-object", {"_links": {"next": "/v6/domains?page=2"}}, {"page": "2"}),
    ("next-without-query", {"_links": [{"rel": "next", "link": "/v6/domains"}]}, None),
    ("garbage-links", {"_links": "next"}, None),
]


@pytest.mark.parametrize(("data", "query"), [p[1:] for p in PAGES], ids=[p[0] for p in PAGES])
def test_next_page_query(data: dict[str, Any], query: dict[str, str] | None) -> None:
    assert next_page_query(data) == query


def test_rate_limit_update() -> None:
    rl = RateLimit()
    rl.update({"X-Rate-Limit-Limit": "1000", "X-Rate-Limit-Remaining": "650"})
    assert (rl.limit, rl.remaining, rl.reset) == (1000, 650, None)
    rl.update({"X-Rate-Limit-Remaining": "649", "X-Rate-Limit-Reset": "1485875578"})
    assert (rl.limit, rl.remaining, rl.reset) == (1000, 649, 1485875578.0)
    rl.update({"X-Rate-Limit-Remaining": "lots"})
    assert rl.remaining == 649


RATE_HEADERS: list[tuple[str, dict[str, str], tuple[int | None, int | None, float | None]]] = [
    ("none", {}, (None, None, None)),
    (
        "all",
        {"X-Rate-Limit-Limit": "1000", "X-Rate-Limit-Remaining": "7", "X-Rate-Limit-Reset": "9.5"},
        (1000, 7, 9.5),
    ),
    ("padded", {"X-Rate-Limit-Remaining": " 7 "}, (None, 7, None)),
    ("word", {"X-Rate-Limit-Remaining": "lots"}, (None, None, None)),
    ("inf-limit", {"X-Rate-Limit-Limit": "inf"}, (None, None, None)),
    ("infinity-remaining", {"X-Rate-Limit-Remaining": "-Infinity"}, (None, None, None)),
    ("nan-remaining", {"X-Rate-Limit-Remaining": "nan"}, (None, None, None)),
    ("nan-reset", {"X-Rate-Limit-Reset": "NaN"}, (None, None, None)),
    ("overflowing-reset", {"X-Rate-Limit-Reset": "1e999"}, (None, None, None)),
]


@pytest.mark.parametrize(
    ("headers", "want"), [r[1:] for r in RATE_HEADERS], ids=[r[0] for r in RATE_HEADERS]
)
def test_rate_limit_headers(
    headers: dict[str, str], want: tuple[int | None, int | None, float | None]
) -> None:
    """A header that is not a finite number is ignored, like a missing one."""
    rl = RateLimit()
    rl.update(headers)
    assert (rl.limit, rl.remaining, rl.reset) == want


def test_user_agent_names_the_version() -> None:
    assert f"ddnsd/{ddnsd.__version__}" == USER_AGENT
