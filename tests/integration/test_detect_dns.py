"""The dns: sources against real DNS servers on loopback: a small responder in this file,
and the emulator's authoritative DNS."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from dns_support import Server, serving

from ddnsd.detect.base import Family, SourceFailed
from ddnsd.detect.dns import DnsDetector
from ddnsd.detect.sources import make_detector
from ddnsd.detect.spec import parse_source
from ddnsd.model import DnsEntry

V4, V6 = Family.V4, Family.V6

# (name, type, class) → values; names ending in "truncated." answer TC over UDP
RECORDS: dict[tuple[str, str, str], list[str]] = {
    ("home.example.test.", "A", "IN"): ["203.0.113.7"],
    ("home.example.test.", "AAAA", "IN"): ["2001:db8::7"],
    ("txt-only.example.test.", "TXT", "IN"): ['"198.51.100.9"'],
    ("two.example.test.", "A", "IN"): ["203.0.113.1", "203.0.113.2"],
    ("garbage.example.test.", "TXT", "IN"): ['"hello there"'],
    ("private.example.test.", "A", "IN"): ["10.0.0.7"],
    ("big.truncated.", "A", "IN"): ["203.0.113.44"],
    # the presets' names, answered like the real services do
    ("myip.opendns.com.", "A", "IN"): ["203.0.113.50"],
    ("myip.opendns.com.", "AAAA", "IN"): ["2001:db8::50"],
    ("o-o.myaddr.l.google.com.", "TXT", "IN"): [
        '"edns0-client-subnet 203.0.113.0/24"',
        '"203.0.113.51"',
    ],
    ("whoami.cloudflare.", "TXT", "CH"): ['"203.0.113.52"'],
}
SERVFAIL = {"broken.example.test."}


def answer(wire: bytes, over_udp: bool) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text()
    rdtype = dns.rdatatype.to_text(question.rdtype)
    rdclass = dns.rdataclass.to_text(question.rdclass)
    if name in SERVFAIL:
        response.set_rcode(dns.rcode.SERVFAIL)
    elif name.endswith("truncated.") and over_udp:
        response.flags |= dns.flags.TC
    elif (name, rdtype, rdclass) in RECORDS:
        values = RECORDS[(name, rdtype, rdclass)]
        response.answer.append(dns.rrset.from_text_list(name, 60, rdclass, rdtype, values))
    elif not any(key[0] == name for key in RECORDS):
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response.to_wire()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving(lambda wire: [answer(wire, True)], lambda wire: [answer(wire, False)]) as s:
        yield s


def custom(name: str, server: Server, lab: bool = True) -> DnsDetector:
    det = make_detector(
        parse_source(f"dns:{name}@127.0.0.1:{server.port}"), timeout=2.0, allow_private=lab
    )
    assert isinstance(det, DnsDetector)
    return det


OK = [
    ("custom/A", "home.example.test", V4, "203.0.113.7"),
    ("custom/AAAA", "home.example.test", V6, "2001:db8::7"),
    ("custom/txt-fallback", "txt-only.example.test", V4, "198.51.100.9"),
    ("custom/tcp-after-truncation", "big.truncated", V4, "203.0.113.44"),
]


@pytest.mark.parametrize(("name", "family", "want"), [c[1:] for c in OK], ids=[c[0] for c in OK])
def test_custom_name_at_server(server: Server, name: str, family: Family, want: str) -> None:
    assert custom(name, server).detect(family) == want


FAIL = [
    ("nxdomain", "nothing.example.test", V4, "has no A or TXT record for nothing.example.test"),
    ("no-aaaa", "two.example.test", V6, "has no AAAA or TXT record for two.example.test"),
    ("servfail", "broken.example.test", V4, "answered SERVFAIL for broken.example.test A"),
    ("several", "two.example.test", V4, "answered several addresses (203.0.113.1, 203.0.113.2)"),
    ("garbage-txt", "garbage.example.test", V4, "bad answer: 'hello there' is not an IP address"),
]


@pytest.mark.parametrize(
    ("name", "family", "words"), [c[1:] for c in FAIL], ids=[c[0] for c in FAIL]
)
def test_unusable_dns_answers_fail_the_source(
    server: Server, name: str, family: Family, words: str
) -> None:
    det = custom(name, server)
    with pytest.raises(SourceFailed) as err:
        det.detect(family)
    assert str(err.value).startswith(f"address source '{det.source}' failed for {family.label}: ")
    assert words in str(err.value)


def test_private_answer_needs_allow_private(server: Server) -> None:
    with pytest.raises(SourceFailed, match=r"10\.0\.0\.7 is in the private"):
        custom("private.example.test", server, lab=False).detect(V4)


def test_silent_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        det = make_detector(parse_source(f"dns:home.example.test@127.0.0.1:{port}"), timeout=0.3)
        with pytest.raises(
            SourceFailed, match=rf"no answer from 127.0.0.1 port {port} within 0.3 s"
        ):
            det.detect(V4)


PRESETS = [
    ("opendns/A", "dns:opendns", V4, "203.0.113.50"),
    ("opendns/AAAA", "dns:opendns", V6, "2001:db8::50"),
    ("google/TXT-with-ecs-note", "dns:google", V4, "203.0.113.51"),
    ("cloudflare/CH-TXT", "dns:cloudflare", V4, "203.0.113.52"),
]


@pytest.mark.parametrize(
    ("source", "family", "want"), [c[1:] for c in PRESETS], ids=[c[0] for c in PRESETS]
)
def test_presets_ask_the_right_question(
    server: Server, source: str, family: Family, want: str
) -> None:
    det = DnsDetector(source, timeout=2.0, allow_private=True, server=("127.0.0.1", server.port))
    assert det.detect(family) == want


def test_record_served_by_the_emulator_dns(emulator: Any) -> None:
    emulator.seed_entry("example.test", DnsEntry("home", 300, "A", "203.0.113.7"))
    det = make_detector(
        parse_source(f"dns:home.example.test@{emulator.dns_server}"),
        timeout=2.0,
        allow_private=True,
    )
    assert det.detect(V4) == "203.0.113.7"
    emulator.seed_entry("example.test", DnsEntry("v6only", 300, "AAAA", "2001:db8::77"))
    det6 = make_detector(
        parse_source(f"dns:v6only.example.test@{emulator.dns_server}"),
        timeout=2.0,
        allow_private=True,
    )
    assert det6.detect(V6) == "2001:db8::77"
