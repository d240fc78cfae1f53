"""The emulator's authoritative DNS over real UDP/TCP sockets (dnspython + ddnsd.authdns)."""

from __future__ import annotations

import time
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import requests

from ddnsd.authdns import Nameserver, parse_server, query
from ddnsd.emulator.dns import Resolver
from ddnsd.emulator.zones import Version
from ddnsd.model import DnsEntry


def ask(emulator: Any, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
    host, port = emulator.dns_address
    msg = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(msg, host, port=port, timeout=3)


def server(emulator: Any) -> Nameserver:
    return parse_server(emulator.dns_server)


def post(emulator: Any, token: str, domain: str, e: DnsEntry, method: str = "POST") -> None:
    r = requests.request(
        method,
        f"{emulator.api_url}/domains/{domain}/dns",
        json={
            "dnsEntry": {"name": e.name, "expire": e.expire, "type": e.type, "content": e.content}
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code in (201, 204), r.text


def answer_texts(resp: dns.message.Message) -> list[str]:
    return sorted(rr.to_text() for rr in resp.answer)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_written_entry_is_served_authoritatively(emulator: Any, tcp: bool) -> None:
    post(emulator, emulator.token(), "example.test", DnsEntry("home", 300, "A", "192.0.2.1"))
    resp = ask(emulator, "home.example.test", "A", tcp=tcp)
    assert resp.rcode() == dns.rcode.NOERROR
    assert resp.flags & dns.flags.AA
    assert answer_texts(resp) == ["home.example.test. 300 IN A 192.0.2.1"]
    assert query(server(emulator), "home.example.test", "A") == ["192.0.2.1"]


ANSWERS = [
    ("apex-mx", "example.test", "MX", ["example.test. 3600 IN MX 10 mail.example.test."]),
    ("apex-txt", "example.test", "TXT", ['example.test. 3600 IN TXT "v=spf1 mx -all"']),
    ("a", "mail.example.test", "A", ["mail.example.test. 3600 IN A 198.51.100.25"]),
    ("case", "MAIL.Example.TEST", "A", ["MAIL.Example.TEST. 3600 IN A 198.51.100.25"]),
    (
        "ns",
        "example.test",
        "NS",
        [
            "example.test. 86400 IN NS ns0.example.test.\n"
            "example.test. 86400 IN NS ns1.example.test."
        ],
    ),
    ("cname", "www.example.test", "CNAME", ["www.example.test. 3600 IN CNAME example.test."]),
    ("other-zone", "mail.other.test", "A", ["mail.other.test. 3600 IN A 198.51.100.25"]),
    ("glue", "ns0.example.test", "A", ["ns0.example.test. 86400 IN A 127.0.0.1"]),
]


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_answers(emulator: Any, name: str, rdtype: str, expected: list[str]) -> None:
    resp = ask(emulator, name, rdtype)
    assert resp.rcode() == dns.rcode.NOERROR
    assert resp.flags & dns.flags.AA
    assert ["\n".join(sorted(t.split("\n"))) for t in answer_texts(resp)] == expected


def test_soa(emulator: Any) -> None:
    resp = ask(emulator, "example.test", "SOA")
    (rrset,) = resp.answer
    soa = rrset[0]
    assert (str(soa.mname), str(soa.rname)) == ("ns0.example.test.", "hostmaster.example.test.")


def test_soa_serial_grows_with_each_write(emulator: Any) -> None:
    before = ask(emulator, "example.test", "SOA").answer[0][0].serial
    post(emulator, emulator.token(), "example.test", DnsEntry("home", 300, "A", "192.0.2.1"))
    after = ask(emulator, "example.test", "SOA").answer[0][0].serial
    assert after > before


@pytest.mark.parametrize(
    ("name", "rdtype", "rcode"),
    [
        ("nothing.example.test", "A", dns.rcode.NXDOMAIN),
        ("mail.example.test", "TXT", dns.rcode.NOERROR),  # NODATA
        ("example.test", "A", dns.rcode.NOERROR),  # NODATA at the apex
    ],
    ids=["nxdomain", "nodata", "nodata-apex"],
)
def test_negative_answers_carry_the_soa(emulator: Any, name: str, rdtype: str, rcode: int) -> None:
    resp = ask(emulator, name, rdtype)
    assert resp.rcode() == rcode
    assert resp.answer == []
    assert resp.flags & dns.flags.AA
    (soa,) = resp.authority
    assert soa.rdtype == dns.rdatatype.SOA and str(soa.name) == "example.test."
    assert query(server(emulator), name, rdtype) == []


def test_names_outside_the_zones_are_refused(emulator: Any) -> None:
    resp = ask(emulator, "example.org", "A")
    assert resp.rcode() == dns.rcode.REFUSED
    assert not resp.flags & dns.flags.AA


def test_cname_is_followed_inside_the_zone(emulator: Any) -> None:
    emulator.seed_entry("example.test", DnsEntry("@", 300, "A", "203.0.113.10"))
    resp = ask(emulator, "www.example.test", "A")
    assert answer_texts(resp) == [
        "example.test. 300 IN A 203.0.113.10",
        "www.example.test. 3600 IN CNAME example.test.",
    ]


def test_long_txt_is_split_into_strings(emulator: Any) -> None:
    value = "k=" + "x" * 600
    post(emulator, emulator.token(), "example.test", DnsEntry("long", 60, "TXT", value))
    resp = ask(emulator, "long.example.test", "TXT", tcp=True)
    strings = resp.answer[0][0].strings
    assert [len(s) for s in strings] == [255, 255, 92]
    assert query(server(emulator), "long.example.test", "TXT") == [value]


def test_several_txt_values_at_one_name(emulator: Any) -> None:
    token = emulator.token()
    for value in ("one", "two"):
        post(emulator, token, "example.test", DnsEntry("_acme-challenge", 60, "TXT", value))
    got = query(server(emulator), "_acme-challenge.example.test", "TXT")
    assert sorted(got) == ["one", "two"]


def test_record_types(emulator: Any) -> None:
    for e in [
        DnsEntry("v6", 300, "AAAA", "2001:db8::1"),
        DnsEntry("@", 3600, "CAA", '0 issue "letsencrypt.org"'),
        DnsEntry("_sip._tcp", 3600, "SRV", "10 5 5060 sip"),
        DnsEntry("ext", 3600, "CNAME", "target.example.org."),
    ]:
        emulator.seed_entry("example.test", e)
    ns = server(emulator)
    assert query(ns, "v6.example.test", "AAAA") == ["2001:db8::1"]
    assert query(ns, "example.test", "CAA") == ['0 issue "letsencrypt.org"']
    assert query(ns, "_sip._tcp.example.test", "SRV") == ["10 5 5060 sip.example.test."]
    assert query(ns, "ext.example.test", "CNAME") == ["target.example.org."]


@pytest.mark.parametrize(
    ("entry", "rdtype", "served"),
    [
        (
            DnsEntry("alias", 300, "CNAME", "lb.example.org"),
            "CNAME",
            "lb.example.org.example.test.",
        ),
        (DnsEntry("alias", 300, "CNAME", "lb.example.org."), "CNAME", "lb.example.org."),
        (DnsEntry("mail", 300, "MX", "10 mx.example.org"), "MX", "10 mx.example.org.example.test."),
        (DnsEntry("mail", 300, "MX", "10 mx.example.org."), "MX", "10 mx.example.org."),
        (DnsEntry("sub", 300, "NS", "ns.example.org"), "NS", "ns.example.org.example.test."),
        (DnsEntry("sub", 300, "NS", "ns.example.org."), "NS", "ns.example.org."),
        (
            DnsEntry("_h._tcp", 300, "SRV", "1 2 443 h.example.org"),
            "SRV",
            "1 2 443 h.example.org.example.test.",
        ),
        (
            DnsEntry("_h._tcp", 300, "SRV", "1 2 443 h.example.org."),
            "SRV",
            "1 2 443 h.example.org.",
        ),
    ],
)
def test_target_without_trailing_dot_is_relative_to_the_zone(
    emulator: Any, entry: DnsEntry, rdtype: str, served: str
) -> None:
    """As at TransIP: a CNAME/MX/NS/SRV target without a trailing dot is a name in the zone
    (the external-dns provider writes targets absolute for that reason)."""
    emulator.seed_entry("example.test", entry)
    assert query(server(emulator), f"{entry.name}.example.test", rdtype) == [served]


def test_wildcard_entries(emulator: Any) -> None:
    emulator.seed_entry("example.test", DnsEntry("*.dyn", 300, "A", "192.0.2.50"))
    assert query(server(emulator), "host.dyn.example.test", "A") == ["192.0.2.50"]
    assert query(server(emulator), "dyn.example.test", "A") == []
    assert ask(emulator, "dyn.example.test", "A").rcode() == dns.rcode.NOERROR  # empty non-terminal


def test_deleted_entry_disappears(emulator: Any) -> None:
    token = emulator.token()
    e = DnsEntry("gone", 60, "TXT", "bye")
    post(emulator, token, "example.test", e)
    assert query(server(emulator), "gone.example.test", "TXT") == ["bye"]
    post(emulator, token, "example.test", e, method="DELETE")
    assert ask(emulator, "gone.example.test", "TXT").rcode() == dns.rcode.NXDOMAIN


def test_propagation_delay_hides_writes_until_it_passes(emulator_factory: Any) -> None:
    emu = emulator_factory(propagation_delay=3600)
    ns = server(emu)
    post(emu, emu.token(), "example.test", DnsEntry("home", 300, "A", "192.0.2.1"))
    assert DnsEntry("home", 300, "A", "192.0.2.1") in emu.entries("example.test")
    assert query(ns, "home.example.test", "A") == []  # the API has it, DNS not yet
    assert query(ns, "mail.example.test", "A") == ["198.51.100.25"]  # old data still served
    r = requests.post(emu.base_url + "/_emulator/delay", json={"propagation_delay": 0}, timeout=5)
    assert r.status_code == 200
    assert query(ns, "home.example.test", "A") == ["192.0.2.1"]


def test_short_propagation_delay_eventually_shows_the_write(emulator_factory: Any) -> None:
    emu = emulator_factory(propagation_delay=0.5)
    ns = server(emu)
    post(emu, emu.token(), "example.test", DnsEntry("home", 300, "A", "192.0.2.1"))
    deadline = time.monotonic() + 15
    while query(ns, "home.example.test", "A") != ["192.0.2.1"]:
        assert time.monotonic() < deadline, "write never became visible"
        time.sleep(0.1)


def test_seeded_entries_are_visible_at_once_despite_the_delay(emulator_factory: Any) -> None:
    emu = emulator_factory(propagation_delay=3600)
    emu.seed_entry("example.test", DnsEntry("seeded", 60, "TXT", "here"))
    assert query(server(emu), "seeded.example.test", "TXT") == ["here"]


def test_test_mode_writes_never_reach_dns(emulator: Any) -> None:
    r = requests.post(
        emulator.api_url + "/domains/example.test/dns?test=1",
        json={"dnsEntry": {"name": "home", "expire": 300, "type": "A", "content": "192.0.2.1"}},
        headers={"Authorization": f"Bearer {emulator.token()}"},
        timeout=10,
    )
    assert r.status_code == 201
    assert query(server(emulator), "home.example.test", "A") == []


class OneVersion:
    """A zone store that serves whichever version the test sets (for the resolver cache)."""

    domains = ["example.test"]

    def __init__(self) -> None:
        self.current: Version | None = None

    def visible(self, domain: str, delay: float) -> Version:
        assert self.current is not None
        return self.current


def test_dns_follows_a_new_version_at_a_reused_address() -> None:
    # A reset or seed frees the zone's old versions, and CPython hands a freed object's
    # address to the next one: a cache keyed by id(version) then served the old zone.
    store = OneVersion()
    resolver = Resolver(store, lambda: 0.0, "127.0.0.1")  # type: ignore[arg-type]
    q = dns.message.make_query("x.example.test", "TXT")
    served = []
    for i in range(50):
        entries = (DnsEntry("x", 60, "TXT", f"v{i}"),)
        store.current = None  # the store lets go of the old version (as reset() does)
        store.current = Version(float("-inf"), 1, entries)
        served.append(answer_texts(resolver.answer(q)))
    assert served == [[f'x.example.test. 60 IN TXT "v{i}"'] for i in range(50)]


def test_a_thousand_zones_each_answer_for_the_closest_zone(emulator_factory: Any) -> None:
    """Queries find their zone by walking up their own labels: with 1,000 zones (the scale
    benchmark) each answer is still the closest enclosing zone's."""
    domains = [f"d{i:04d}.test" for i in range(1000)] + ["sub.d0007.test"]
    emu = emulator_factory(domains=domains)
    emu.seed_entry("sub.d0007.test", DnsEntry("home", 300, "A", "203.0.113.7"))
    emu.seed_entry("d0999.test", DnsEntry("home", 300, "A", "203.0.113.99"))
    ns = server(emu)
    assert query(ns, "home.sub.d0007.test", "A") == ["203.0.113.7"]
    assert query(ns, "home.d0007.test", "A") == []
    assert query(ns, "HOME.d0999.test", "A") == ["203.0.113.99"]
    soa = ask(emu, "x.sub.d0007.test", "A").authority[0]
    assert str(soa.name) == "sub.d0007.test."
    assert ask(emu, "d1000.test", "A").rcode() == dns.rcode.REFUSED


def test_query_returns_the_ttl_with_the_values(emulator: Any) -> None:
    """The DDNS drift check PATCHes an entry it saw only in DNS: it needs name, TTL
    (TransIP's expire) and content, and PATCH matches on all but the content."""
    emulator.seed_entry("example.test", DnsEntry("home", 120, "A", "203.0.113.5"))
    got = query(server(emulator), "home.example.test", "A")
    assert (got, got.ttl) == (["203.0.113.5"], 120)
    nothing = query(server(emulator), "nothing.example.test", "A")
    assert (nothing, nothing.ttl) == ([], None)
