"""Source strings: which are accepted at config time, what they build, how they are shown."""

from __future__ import annotations

import re

import pytest

from ddnsd import authdns
from ddnsd.detect.base import Family, SourceFailed, redact_source
from ddnsd.detect.command import CommandDetector
from ddnsd.detect.dns import PRESETS, DnsDetector
from ddnsd.detect.echo import HttpDetector
from ddnsd.detect.interface import InterfaceDetector
from ddnsd.detect.push import PushDetector, PushStore
from ddnsd.detect.sources import make_detector
from ddnsd.detect.spec import DNS_PRESETS, parse_source
from ddnsd.detect.static import FileDetector, StaticDetector
from ddnsd.errors import DdnsdError
from ddnsd.hostport import split_server

VALID = [
    ("https", "https://api.ipify.org", HttpDetector, "https://api.ipify.org"),
    ("http-port-path", "http://127.0.0.1:8080/ip", HttpDetector, "http://127.0.0.1:8080/ip"),
    (
        "https-upper-scheme",
        "HTTPS://ipv4.icanhazip.com",
        HttpDetector,
        "https://ipv4.icanhazip.com",
    ),
    ("dns-opendns", "dns:opendns", DnsDetector, "dns:opendns"),
    ("dns-google", "dns:google", DnsDetector, "dns:google"),
    ("dns-cloudflare", "dns:cloudflare", DnsDetector, "dns:cloudflare"),
    ("dns-name-at-ip-port", "dns:home.example.test@127.0.0.1:8053", DnsDetector, None),
    ("dns-name-at-ipv6", "dns:home.example.test@[::1]:53", DnsDetector, None),
    ("dns-name-at-bare-ipv6", "dns:myip.example@2001:db8::53", DnsDetector, None),
    ("dns-name-at-host", "dns:myip.example@ns1.example.net", DnsDetector, None),
    ("iface", "iface:eth0", InterfaceDetector, "iface:eth0"),
    ("iface-vlan", "iface:eth0.100", InterfaceDetector, "iface:eth0.100"),
    ("cmd", "cmd:/usr/local/bin/my-ip", CommandDetector, None),
    ("cmd-with-args", "cmd:/usr/bin/curl -s 'https://x'", CommandDetector, None),
    ("file", "file:/run/ddnsd/ip", FileDetector, "file:/run/ddnsd/ip"),
    ("static-v4", "static:203.0.113.9", StaticDetector, "static:203.0.113.9"),
    ("static-v6", "static:2001:db8::9", StaticDetector, "static:2001:db8::9"),
    ("push", "push", PushDetector, "push"),
    ("surrounding-space", "  dns:opendns ", DnsDetector, "dns:opendns"),
]


@pytest.mark.parametrize(
    ("source", "kind", "label"), [c[1:] for c in VALID], ids=[c[0] for c in VALID]
)
def test_valid_sources_build_their_detector(source: str, kind: type, label: str | None) -> None:
    spec = parse_source(source)
    assert str(spec) == source and parse_source(str(spec)) == spec
    detector = make_detector(parse_source(source), push_store=PushStore())
    assert isinstance(detector, kind)
    assert detector.source == (label or source.strip())


INVALID = [
    ("empty", "", "unknown address source ''"),
    ("unknown-scheme", "ftp://example.net/ip", "unknown address source 'ftp://example.net/ip'"),
    ("bare-address", "203.0.113.9", "is a bare address; write static:203.0.113.9"),
    ("bare-word", "ipify", "unknown address source 'ipify'; use https://URL"),
    ("url-without-host", "https:///ip", "has no host name"),
    ("url-bad-port", "https://example.net:99999/", "is not a valid URL"),
    ("dns-unknown-preset", "dns:quad9", "unknown DNS source 'dns:quad9'; use dns:opendns"),
    ("dns-no-name", "dns:@127.0.0.1", "has no valid name before '@'"),
    ("dns-empty-label", "dns:a..example@127.0.0.1", "has no valid name before '@'"),
    ("dns-long-label", f"dns:{'a' * 64}.example@127.0.0.1", "has no valid name before '@'"),
    ("dns-bad-port", "dns:x.example@127.0.0.1:0", "has an invalid port '0'"),
    ("dns-port-text", "dns:x.example@127.0.0.1:dns", "has an invalid port 'dns'"),
    ("dns-no-server", "dns:x.example@", "is not HOST, HOST:PORT or [IPv6]:PORT"),
    ("dns-bracket-unclosed", "dns:x.example@[::1", "is not HOST, HOST:PORT or [IPv6]:PORT"),
    ("iface-empty", "iface:", "'' is not an interface name"),
    ("iface-too-long", "iface:averyveryverylongname", "is not an interface name"),
    ("iface-slash", "iface:eth/0", "is not an interface name"),
    ("cmd-empty", "cmd:", "the cmd: source needs a program"),
    ("cmd-unbalanced-quote", "cmd:/bin/x 'oops", "cannot be split into arguments"),
    ("file-empty", "file:", "the file: source needs a path"),
    ("static-garbage", "static:home", "'home' is not an IP address"),
    ("static-cidr", "static:203.0.113.0/24", "is not an IP address"),
]


@pytest.mark.parametrize(("source", "words"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_sources_are_refused_in_one_sentence(source: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_source(source)
    assert words in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError):
        make_detector(parse_source(source), push_store=PushStore())


def test_push_without_store_says_only_the_daemon_is_pushed_to() -> None:
    """`ddnsd ip` / `once` have no store: the source fails with a sentence, no exception."""
    detector = make_detector(parse_source("push"))
    with pytest.raises(SourceFailed, match=r"routers push to the running daemon \(ddnsd run\)"):
        detector.detect(Family.V4)


REDACT = [
    ("no-secret", "https://api.ipify.org/", "https://api.ipify.org/"),
    ("password", "https://me:s3cret@ip.example/", "https://me:***@ip.example/"),
    ("user-only: a token", "https://tok3n@ip.example/", "https://***@ip.example/"),
    ("query-token", "https://ip.example/?token=abc&v=4", "https://ip.example/?token=***&v=***"),
    ("not-a-url", "dns:opendns", "dns:opendns"),
]


@pytest.mark.parametrize(("source", "shown"), [c[1:] for c in REDACT], ids=[c[0] for c in REDACT])
def test_secrets_in_urls_never_reach_the_label(source: str, shown: str) -> None:
    assert redact_source(source) == shown
    if source.startswith("http"):
        assert make_detector(parse_source(source)).source == shown


def test_unknown_source_error_does_not_echo_a_password() -> None:
    with pytest.raises(ValueError) as err:
        parse_source("ftp://me:s3cret@ip.example/")
    assert "s3cret" not in str(err.value)


def test_url_password_is_not_in_a_failure_message() -> None:
    detector = make_detector(parse_source("http://me:s3cret@127.0.0.1:1/"), timeout=1.0)
    with pytest.raises(Exception) as err:
        detector.detect(Family.V4)
    assert "s3cret" not in str(err.value)
    assert "http://me:***@127.0.0.1:1/" in str(err.value)


SERVERS = [
    ("ipv4-port", "127.0.0.1:8053", ("127.0.0.1", 8053)),
    ("ipv4", "127.0.0.1", ("127.0.0.1", 53)),
    ("ipv6-bracket-port", "[::1]:5353", ("::1", 5353)),
    ("ipv6-bracket", "[::1]", ("::1", 53)),
    ("ipv6-bare", "2001:db8::53", ("2001:db8::53", 53)),
    ("host-port", "ns1.example.net:53", ("ns1.example.net", 53)),
]


@pytest.mark.parametrize(("spec", "want"), [c[1:] for c in SERVERS], ids=[c[0] for c in SERVERS])
def test_split_server(spec: str, want: tuple[str, int]) -> None:
    assert split_server(spec) == want


BAD_NAMESERVERS = [
    ("port-not-a-number", "127.0.0.1:abc", "invalid port 'abc'"),
    ("bracket-port-not-a-number", "[::1]:x", "invalid port 'x'"),
    ("port-zero", "127.0.0.1:0", "invalid port '0'"),
    ("bracket-unclosed", "[::1:53", "is not HOST, HOST:PORT or [IPv6]:PORT"),
]


@pytest.mark.parametrize(
    ("spec", "says"), [c[1:] for c in BAD_NAMESERVERS], ids=[c[0] for c in BAD_NAMESERVERS]
)
def test_bad_nameserver_is_a_ddnsd_error(spec: str, says: str) -> None:
    """The drift check and ACME catch DdnsdError; a bare ValueError would end the round."""
    with pytest.raises(DdnsdError, match=re.escape(says)):
        authdns.parse_server(spec)


def test_presets_ask_the_servers_of_the_family() -> None:
    assert set(PRESETS) == set(DNS_PRESETS)  # the names config accepts are the ones served
    assert PRESETS["opendns"].server(Family.V4) == "208.67.222.222"
    assert PRESETS["opendns"].server(Family.V6) == "2620:119:35::35"
    assert PRESETS["google"].server(Family.V4) == "216.239.32.10"
    assert PRESETS["google"].server(Family.V6) == "2001:4860:4802:32::a"
    assert PRESETS["cloudflare"].server(Family.V4) == "1.1.1.1"
    assert PRESETS["cloudflare"].server(Family.V6) == "2606:4700:4700::1111"
    assert (PRESETS["cloudflare"].qname, PRESETS["cloudflare"].rdclass) == (
        "whoami.cloudflare",
        "CH",
    )


FAMILIES = [("A", Family.V4), ("aaaa", Family.V6)]


@pytest.mark.parametrize(("rtype", "family"), FAMILIES, ids=["A", "AAAA"])
def test_family_from_record_type(rtype: str, family: Family) -> None:
    assert Family.from_record_type(rtype) is family
    assert family.record_type == rtype.upper()


def test_family_from_other_record_type_is_refused() -> None:
    with pytest.raises(ValueError, match="record type 'TXT' holds no address"):
        Family.from_record_type("TXT")
