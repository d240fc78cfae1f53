"""Which addresses count as public, and joining an IPv6 prefix with a fixed host part."""

from __future__ import annotations

import ipaddress

import pytest

from ddnsd.detect.base import Family
from ddnsd.detect.validate import combine_ipv6_host, validate_address, validate_ipv6_host

V4, V6 = Family.V4, Family.V6

PUBLIC = [
    ("v4/public", "8.8.8.8", V4, "8.8.8.8"),
    ("v4/whitespace-stripped", "  1.1.1.1\n", V4, "1.1.1.1"),
    ("v4/just-outside-cgnat", "100.128.0.1", V4, "100.128.0.1"),
    ("v4/just-outside-172.16/12", "172.32.0.1", V4, "172.32.0.1"),
    ("v6/public", "2a00:1450:4001:82b::200e", V6, "2a00:1450:4001:82b::200e"),
    ("v6/canonicalised", "2A00:1450:4001:082B:0000:0000:0000:200E", V6, "2a00:1450:4001:82b::200e"),
]


@pytest.mark.parametrize(
    ("text", "family", "want"), [c[1:] for c in PUBLIC], ids=[c[0] for c in PUBLIC]
)
def test_public_addresses_pass(text: str, family: Family, want: str) -> None:
    assert validate_address(text, family) == want


# (id, text, family, allowed with allow_private, words the error must contain)
REJECTED = [
    ("v4/rfc1918-10", "10.1.2.3", V4, True, "in the private (RFC 1918) range 10.0.0.0/8"),
    ("v4/rfc1918-172", "172.16.5.4", V4, True, "private (RFC 1918)"),
    ("v4/rfc1918-192", "192.168.1.1", V4, True, "private (RFC 1918)"),
    ("v4/cgnat", "100.64.0.1", V4, True, "carrier-grade NAT"),
    ("v4/doc-test-net-1", "192.0.2.1", V4, True, "documentation"),
    ("v4/doc-test-net-2", "198.51.100.7", V4, True, "documentation"),
    ("v4/doc-test-net-3", "203.0.113.7", V4, True, "documentation range 203.0.113.0/24"),
    ("v4/benchmarking", "198.19.0.1", V4, True, "benchmarking"),
    ("v4/ietf-assignment", "192.0.0.8", V4, True, "IETF protocol assignment"),
    ("v4/6to4-relay", "192.88.99.1", V4, True, "6to4 relay"),
    ("v4/loopback", "127.0.0.1", V4, False, "loopback"),
    ("v4/link-local", "169.254.1.1", V4, False, "link-local"),
    ("v4/multicast", "224.0.0.1", V4, False, "multicast"),
    ("v4/unspecified", "0.0.0.0", V4, False, "is the unspecified address"),
    ("v4/this-network", "0.1.2.3", V4, False, "'this network' range 0.0.0.0/8"),
    ("v4/reserved-240", "240.0.0.1", V4, False, "reserved"),
    ("v4/broadcast", "255.255.255.255", V4, False, "broadcast"),
    ("v6/ula", "fd12:3456::1", V6, True, "unique local"),
    ("v6/documentation", "2001:db8::1", V6, True, "documentation"),
    ("v6/documentation-3fff", "3fff:1::1", V6, True, "documentation"),
    ("v6/teredo", "2001:0:4136:e378::1", V6, True, "Teredo"),
    ("v6/6to4", "2002:c000:204::1", V6, True, "6to4"),
    ("v6/benchmarking", "2001:2::1", V6, True, "benchmarking"),
    ("v6/nat64", "64:ff9b::808:808", V6, True, "NAT64"),
    ("v6/site-local", "fec0::1", V6, True, "site-local"),
    ("v6/loopback", "::1", V6, False, "loopback"),
    ("v6/unspecified", "::", V6, False, "unspecified"),
    ("v6/link-local", "fe80::1", V6, False, "link-local"),
    ("v6/multicast", "ff02::1", V6, False, "multicast"),
    ("v6/v4-mapped", "::ffff:8.8.8.8", V6, False, "IPv4-mapped"),
    ("v6/discard", "100::1", V6, False, "discard-only"),
    ("v6/outside-2000::/3", "4000::1", V6, False, "outside the global unicast range 2000::/3"),
]


@pytest.mark.parametrize(
    ("text", "family", "lab_ok", "words"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_non_public_addresses_are_rejected(
    text: str, family: Family, lab_ok: bool, words: str
) -> None:
    with pytest.raises(ValueError) as err:
        validate_address(text, family)
    assert words in str(err.value)
    assert str(err.value).startswith(str(ipaddress.ip_address(text)) + " is ")
    if lab_ok:
        assert "allow_private" in str(err.value)
        assert validate_address(text, family, allow_private=True) == text
    else:
        with pytest.raises(ValueError, match="never a public address"):
            validate_address(text, family, allow_private=True)


MALFORMED = [
    ("v4-asked/v6-given", "2a00:1450::1", V4, "is an IPv6 address, not IPv4"),
    ("v6-asked/v4-given", "8.8.8.8", V6, "is an IPv4 address, not IPv6"),
    ("garbage", "hello world", V4, "'hello world' is not an IP address"),
    ("html", "<html><body>8.8.8.8</body></html>", V4, "is not an IP address"),
    ("empty", "", V4, "'' is not an IP address"),
    ("with-prefix-length", "8.8.8.0/24", V4, "is not an IP address"),
    ("leading-zeros", "008.008.008.008", V4, "is not an IP address"),
    ("zone-id", "2a00:1450::1%eth0", V6, "zone id"),
    ("long-garbage-truncated", "x" * 500, V4, "…' is not an IP address"),
]


@pytest.mark.parametrize(
    ("text", "family", "words"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_or_wrong_family(text: str, family: Family, words: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_address(text, family, allow_private=True)
    assert words in str(err.value)
    assert len(str(err.value)) < 120


def test_family_may_be_a_plain_int() -> None:
    assert validate_address("8.8.8.8", 4) == "8.8.8.8"


COMBINE = [
    ("typical", "2a02:a450:1:2:aaaa:bbbb:cccc:dddd", "::1234", "2a02:a450:1:2::1234"),
    ("full-host-part", "2a02:a450:1:2::9", "::1:2:3:4", "2a02:a450:1:2:1:2:3:4"),
    ("prefix-only-detected", "2a02:a450:1:2::", "::1", "2a02:a450:1:2::1"),
    ("host-written-long", "2a02:a450::5", "0:0:0:0:0:0:0:1234", "2a02:a450::1234"),
    ("max-host", "2a02:a450:1:2::", "::ffff:ffff:ffff:ffff", "2a02:a450:1:2:ffff:ffff:ffff:ffff"),
]


@pytest.mark.parametrize(
    ("detected", "host", "want"), [c[1:] for c in COMBINE], ids=[c[0] for c in COMBINE]
)
def test_combine_ipv6_host(detected: str, host: str, want: str) -> None:
    assert combine_ipv6_host(detected, host) == want


BAD_HOSTS = [
    ("prefix-bits-set", "2a02::1234", "must set only the last 64 bits"),
    ("all-zero", "::", "must set only the last 64 bits"),
    ("not-ipv6", "1234", "is not an IPv6 host part"),
    ("ipv4", "1.2.3.4", "is not an IPv6 host part"),
    ("zone-id", "::1%eth0", "must set only the last 64 bits"),
]


@pytest.mark.parametrize(
    ("host", "words"), [c[1:] for c in BAD_HOSTS], ids=[c[0] for c in BAD_HOSTS]
)
def test_bad_ipv6_host_parts(host: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        validate_ipv6_host(host)
    with pytest.raises(ValueError, match=words):
        combine_ipv6_host("2a02:a450:1:2::9", host)


def test_combine_needs_an_ipv6_detected_address() -> None:
    with pytest.raises(ValueError, match="is not an IPv6 address"):
        combine_ipv6_host("8.8.8.8", "::1234")
