"""ddnsd.acme.challenge: names, zones, refusals and values (pure, table-driven)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ddnsd.acme import challenge
from ddnsd.errors import ChallengeRefused
from ddnsd.model import DnsEntry

# keyAuth → TXT value, produced independently with:
#   printf %s KEYAUTH | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
VALUE_VECTORS = [
    pytest.param(
        "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ",
        "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0",
        id="rfc8555-style-token.thumbprint",
    ),
    pytest.param(
        "token.thumbprint", "61rBZ_4knHblO0MNoxFsXZ_eTFUHum0B6IVRbhvUn5I", id="short-keyauth"
    ),
    pytest.param("a", "ypeBEsobvcr6wjGzmiPcTaeG7_gUfE5yuYB3ha_uSLs", id="one-char"),
]


@pytest.mark.parametrize(("key_auth", "value"), VALUE_VECTORS)
def test_challenge_value(key_auth: str, value: str) -> None:
    assert challenge.challenge_value(key_auth) == value
    assert len(value) == 43 and "=" not in value


@pytest.mark.parametrize(("key_auth", "value"), VALUE_VECTORS)
def test_value_vectors_match_openssl(key_auth: str, value: str) -> None:
    """The table above really is what openssl computes (guards against a tautological table)."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is required in CI")
        pytest.skip("openssl not installed")
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-binary"],
        input=key_auth.encode(),
        capture_output=True,
        check=True,
    ).stdout
    b64 = subprocess.run(["base64"], input=digest, capture_output=True, check=True).stdout
    assert b64.decode().strip().replace("+", "-").replace("/", "_").rstrip("=") == value


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("example.test", "example.test", id="plain"),
        pytest.param("Example.TEST.", "example.test", id="case+trailing-dot"),
        pytest.param("xn--bcher-kva.example", "xn--bcher-kva.example", id="idna-ascii"),
        pytest.param(
            "_ACME-Challenge.XN--Bcher-Kva.Example.",
            "_acme-challenge.xn--bcher-kva.example",
            id="idna+acme+case",
        ),
    ],
)
def test_normalize_name(given: str, expected: str) -> None:
    assert challenge.normalize_name(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("", id="empty"),
        pytest.param(".", id="root"),
        pytest.param("a..b", id="empty-label"),
        pytest.param("a" * 64 + ".test", id="label-too-long"),
        pytest.param("exa mple.test", id="blank-inside"),
        pytest.param("-bad.test", id="leading-hyphen"),
        pytest.param("*.example.test", id="wildcard-not-allowed-here"),
        pytest.param("ex$mple.test", id="dollar"),
        pytest.param(".".join(["abcdefghi"] * 26), id="name-too-long"),
        pytest.param(" _acme-challenge.example.test. ", id="blanks-around"),
        pytest.param("Bücher.example", id="raw-unicode"),
    ],
)
def test_normalize_name_refuses(given: str) -> None:
    with pytest.raises(ChallengeRefused):
        challenge.normalize_name(given)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        pytest.param("example.test", "_acme-challenge.example.test", id="apex"),
        pytest.param("*.example.test", "_acme-challenge.example.test", id="wildcard=apex"),
        pytest.param("WWW.Example.Test.", "_acme-challenge.www.example.test", id="sub+case+dot"),
        pytest.param(
            "*.xn--bcher-kva.example", "_acme-challenge.xn--bcher-kva.example", id="wild+idna"
        ),
    ],
)
def test_challenge_name(domain: str, expected: str) -> None:
    assert challenge.challenge_name(domain) == expected


ACCOUNT = ["example.test", "other.test", "sub.example.test"]


@pytest.mark.parametrize(
    ("fqdn", "zone", "name"),
    [
        pytest.param("_acme-challenge.example.test", "example.test", "_acme-challenge", id="apex"),
        pytest.param(
            "_acme-challenge.www.example.test", "example.test", "_acme-challenge.www", id="sub"
        ),
        pytest.param(
            "_acme-challenge.sub.example.test",
            "sub.example.test",
            "_acme-challenge",
            id="longest-suffix-wins",
        ),
        pytest.param(
            "_acme-challenge.a.sub.example.test",
            "sub.example.test",
            "_acme-challenge.a",
            id="deep-under-longest",
        ),
        pytest.param("other.test", "other.test", "@", id="the-zone-itself"),
    ],
)
def test_find_zone(fqdn: str, zone: str, name: str) -> None:
    assert challenge.find_zone(fqdn, ACCOUNT) == (zone, name)


@pytest.mark.parametrize(
    "fqdn",
    [
        pytest.param("_acme-challenge.example.org", id="other-tld"),
        pytest.param("_acme-challenge.notexample.test", id="suffix-not-on-label-boundary"),
        pytest.param("test", id="parent-of-zone"),
    ],
)
def test_find_zone_refuses(fqdn: str) -> None:
    with pytest.raises(ChallengeRefused, match="no domain of this TransIP account contains it"):
        challenge.find_zone(fqdn, ACCOUNT)


@pytest.mark.parametrize(
    ("fqdn", "zones"),
    [
        pytest.param("_acme-challenge.example.test", ["example.test"], id="apex"),
        pytest.param("_acme-challenge.www.example.test", ["example.test"], id="sub"),
        pytest.param("_acme-challenge.a.sub.example.test", ["sub.example.test"], id="subzone"),
        pytest.param("_acme-challenge.example.test", ["_acme-challenge.example.test"], id="exact"),
        pytest.param("_acme-challenge.other.test", ["example.test", "OTHER.test."], id="zone-case"),
    ],
)
def test_check_allowed_accepts(fqdn: str, zones: list[str]) -> None:
    challenge.check_allowed(fqdn, zones)


@pytest.mark.parametrize(
    ("fqdn", "zones", "message"),
    [
        pytest.param(
            "www.example.test",
            ["example.test"],
            "refusing 'www.example.test': ddnsd only writes ACME challenge records, "
            "whose names start with '_acme-challenge.'",
            id="not-acme",
        ),
        pytest.param(
            "example.test",
            ["example.test"],
            "refusing 'example.test': ddnsd only writes ACME challenge records, "
            "whose names start with '_acme-challenge.'",
            id="apex-itself",
        ),
        pytest.param(
            "www._acme-challenge.example.test",
            ["example.test"],
            "refusing 'www._acme-challenge.example.test': ddnsd only writes ACME challenge "
            "records, whose names start with '_acme-challenge.'",
            id="acme-label-not-first",
        ),
        pytest.param(
            "_acme-challenge.evil.test",
            ["example.test", "other.test"],
            "refusing '_acme-challenge.evil.test': it is outside the allowed zones "
            "(example.test, other.test); add its domain to [acme] zones to allow it",
            id="outside-zones",
        ),
        pytest.param(
            "_acme-challenge.www.example.test",
            ["sub.example.test"],
            "refusing '_acme-challenge.www.example.test': it is outside the allowed zones "
            "(sub.example.test); add its domain to [acme] zones to allow it",
            id="sibling-of-subzone",
        ),
        pytest.param(
            "_acme-challenge.example.test",
            [],
            "refusing '_acme-challenge.example.test': it is outside the allowed zones "
            "(none); add its domain to [acme] zones to allow it",
            id="no-zones",
        ),
    ],
)
def test_check_allowed_refuses(fqdn: str, zones: list[str], message: str) -> None:
    with pytest.raises(ChallengeRefused) as info:
        challenge.check_allowed(fqdn, zones)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        pytest.param("NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0", True, id="acme-value"),
        pytest.param(" padded ", False, id="blanks-around"),
        pytest.param("value\n", False, id="trailing-newline"),
        pytest.param("", False, id="empty"),
        pytest.param("two words", False, id="blank-inside"),
        pytest.param('quo"te', False, id="quote"),
        pytest.param("x" * 256, False, id="too-long"),
        pytest.param("caf\u00e9", False, id="non-ascii"),
    ],
)
def test_check_value(value: str, ok: bool) -> None:
    if ok:
        assert challenge.check_value(value) == value
    else:
        with pytest.raises(ChallengeRefused, match="refusing the TXT value"):
            challenge.check_value(value)


def test_challenge_module_imports_no_io() -> None:
    """The seam: challenge.py imports no I/O modules."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(challenge))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert not imported & {"socket", "requests", "dns", "time", "os", "subprocess", "pathlib"}


# -- lookups in a zone's entries (as GET /domains/{d}/dns lists them) ---------------------

APEX = "_acme-challenge"
ZONE = [
    DnsEntry("@", 3600, "TXT", "v=spf1 mx -all"),
    DnsEntry(APEX, 300, "TXT", "first"),
    DnsEntry(APEX, 300, "TXT", "second"),
    DnsEntry(APEX + ".www", 60, "TXT", "first"),
    DnsEntry(APEX, 3600, "CNAME", "first"),
    DnsEntry(APEX, 300, "TXT", "second"),  # a duplicate, as a hand edit may leave
]


@pytest.mark.parametrize(
    ("entries", "entry", "expected"),
    [
        pytest.param(ZONE, DnsEntry(APEX, 60, "TXT", "first"), [ZONE[1]], id="any-expire"),
        pytest.param(
            ZONE, DnsEntry(APEX, 300, "TXT", "second"), [ZONE[2], ZONE[5]], id="duplicates"
        ),
        pytest.param(ZONE, DnsEntry(APEX, 300, "TXT", "third"), [], id="other-content"),
        pytest.param(ZONE, DnsEntry(APEX, 300, "A", "first"), [], id="other-type"),
        pytest.param(ZONE, DnsEntry(APEX + ".x", 60, "TXT", "first"), [], id="other-name"),
        pytest.param([], DnsEntry(APEX, 60, "TXT", "first"), [], id="empty-zone"),
    ],
)
def test_same_value_and_find_value(
    entries: list[DnsEntry], entry: DnsEntry, expected: list[DnsEntry]
) -> None:
    assert challenge.same_value(entries, entry) == expected
    assert challenge.find_value(entries, entry) == (expected[0] if expected else None)


@pytest.mark.parametrize(
    ("entries", "entry", "expected"),
    [
        pytest.param(ZONE, DnsEntry(APEX, 60, "TXT", "new"), 300, id="name-and-type-taken"),
        pytest.param(ZONE, DnsEntry(APEX, 60, "CNAME", "x"), 3600, id="type-decides"),
        pytest.param(ZONE, DnsEntry(APEX + ".www", 600, "TXT", "new"), 60, id="other-name"),
        pytest.param(ZONE, DnsEntry(APEX + ".new", 600, "TXT", "new"), 600, id="none-own"),
        pytest.param([], DnsEntry(APEX, 60, "TXT", "new"), 60, id="empty-zone-own"),
        pytest.param(
            [DnsEntry(APEX, 120, "TXT", "a"), DnsEntry(APEX, 240, "TXT", "b")],
            DnsEntry(APEX, 60, "TXT", "new"),
            120,
            id="mixed-first-wins",
        ),
    ],
)
def test_stored_expire(entries: list[DnsEntry], entry: DnsEntry, expected: int) -> None:
    assert challenge.stored_expire(entries, entry) == expected
