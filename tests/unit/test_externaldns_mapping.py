"""external-dns endpoints ⇄ TransIP entries: the canonical form, zones, and the way back."""

from __future__ import annotations

import pytest

from ddnsd.acme.challenge import longest_suffix
from ddnsd.externaldns.mapping import (
    BadRequest,
    Endpoint,
    Policy,
    canonical,
    changes_from_json,
    endpoint_to_json,
    endpoints_of,
    entries_of,
)
from ddnsd.model import DnsEntry

POLICY = Policy(min_ttl=60, default_ttl=300)


@pytest.mark.parametrize(
    ("ep", "want"),
    [
        (
            Endpoint("Web.Example.Test.", "a", ("192.0.2.2", "192.0.2.1", "192.0.2.1")),
            Endpoint("web.example.test", "A", ("192.0.2.1", "192.0.2.2"), 300),
        ),
        (
            Endpoint("a.example.test", "A", ("192.0.2.1",), 30),
            Endpoint("a.example.test", "A", ("192.0.2.1",), 60),
        ),
        (
            Endpoint("a.example.test", "A", ("192.0.2.1",), 3600),
            Endpoint("a.example.test", "A", ("192.0.2.1",), 3600),
        ),
        (
            Endpoint("c.example.test", "CNAME", ("lb.example.org.",), 300),
            Endpoint("c.example.test", "CNAME", ("lb.example.org",), 300),
        ),
        (
            Endpoint("example.test", "MX", ("10 mx.example.org.",), 300),
            Endpoint("example.test", "MX", ("10 mx.example.org",), 300),
        ),
        (
            Endpoint("_s._tcp.example.test", "SRV", ("1 2 443 h.example.org.",), 300),
            Endpoint("_s._tcp.example.test", "SRV", ("1 2 443 h.example.org",), 300),
        ),
        (
            Endpoint("a-x.example.test", "TXT", ('"heritage=external-dns"',), 0),
            Endpoint("a-x.example.test", "TXT", ("heritage=external-dns",), 300),
        ),
        (
            Endpoint("t.example.test", "TXT", ("v=spf1 -all",), 0),
            Endpoint("t.example.test", "TXT", ("v=spf1 -all",), 300),
        ),
        (
            Endpoint("*.example.test", "A", ("192.0.2.1",), 300),
            Endpoint("*.example.test", "A", ("192.0.2.1",), 300),
        ),
        (Endpoint("p.example.test", "PTR", ("h.example.test",)), "TransIP has no 'PTR' records"),
        (
            Endpoint("d.example.test", "DNAME", ("h.example.test",)),
            "TransIP has no 'DNAME' records",
        ),
        (
            Endpoint("a.example.test", "A", ("192.0.2.1",), 0, "eu"),
            "TransIP has no routing policies (setIdentifier)",
        ),
        (Endpoint("a.example.test", "A", ()), "it has no target"),
        (
            Endpoint("a..example.test", "A", ("192.0.2.1",)),
            "'a..example.test' is not a domain name: it has an empty label (a dot at the "
            "start, at the end or two in a row)",
        ),
        (
            Endpoint("a.example.test", "TXT", ("x\ny",)),
            "target 'x\\ny' contains a control character",
        ),
    ],
)
def test_canonical(ep: Endpoint, want: Endpoint | str) -> None:
    assert canonical(ep, POLICY) == want


@pytest.mark.parametrize(
    ("ep", "entries"),
    [
        (
            Endpoint("web.example.test", "A", ("192.0.2.1", "192.0.2.2"), 300),
            [DnsEntry("web", 300, "A", "192.0.2.1"), DnsEntry("web", 300, "A", "192.0.2.2")],
        ),
        (
            Endpoint("example.test", "MX", ("10 mx.example.org",), 60),
            [DnsEntry("@", 60, "MX", "10 mx.example.org.")],
        ),
        (
            Endpoint("c.sub.example.test", "CNAME", ("lb.example.org",), 60),
            [DnsEntry("c.sub", 60, "CNAME", "lb.example.org.")],
        ),
        (
            Endpoint("_s._tcp.example.test", "SRV", ("1 2 443 h.example.org",), 60),
            [DnsEntry("_s._tcp", 60, "SRV", "1 2 443 h.example.org.")],
        ),
        (
            Endpoint(
                "a-x.example.test", "TXT", ("heritage=external-dns,external-dns/owner=o",), 60
            ),
            [DnsEntry("a-x", 60, "TXT", "heritage=external-dns,external-dns/owner=o")],
        ),
    ],
)
def test_entries_and_back(ep: Endpoint, entries: list[DnsEntry]) -> None:
    """What is written is what /records reports: external-dns's plan converges."""
    assert entries_of(ep, "example.test") == entries
    assert endpoints_of("example.test", entries) == [ep]


@pytest.mark.parametrize(
    ("entry", "target"),
    [
        (DnsEntry("www", 60, "CNAME", "@"), "example.test"),
        (DnsEntry("www", 60, "CNAME", "web"), "web.example.test"),
        (DnsEntry("@", 60, "MX", "10 mail"), "10 mail.example.test"),
        (DnsEntry("@", 60, "NS", "ns1.example.org."), "ns1.example.org"),
    ],
)
def test_a_target_without_a_trailing_dot_is_read_relative_to_the_zone(
    entry: DnsEntry, target: str
) -> None:
    assert endpoints_of("example.test", [entry])[0].targets == (target,)


@pytest.mark.parametrize(
    ("fqdn", "zone"),
    [
        ("a.example.test", "example.test"),
        ("example.test", "example.test"),
        ("a.sub.example.test", "sub.example.test"),
        ("a.example.testing", None),
        ("other.test", None),
    ],
)
def test_zone_is_the_longest_suffix(fqdn: str, zone: str | None) -> None:
    assert longest_suffix(fqdn, ["example.test", "sub.example.test"]) == zone


def test_endpoint_json_has_an_integer_ttl_and_leaves_empty_fields_out() -> None:
    ep = Endpoint("a.example.test", "A", ("192.0.2.1",), 300)
    assert endpoint_to_json(ep) == {
        "dnsName": "a.example.test",
        "targets": ["192.0.2.1"],
        "recordType": "A",
        "recordTTL": 300,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"create": None, "updateOld": [], "updateNew": None},
        {"Create": None, "UpdateOld": [], "Delete": None},
        {},
    ],
)
def test_empty_changes_in_either_spelling(body: dict[str, object]) -> None:
    changes = changes_from_json(body)
    assert (changes.create, changes.update_old, changes.update_new, changes.delete) == (
        [],
        [],
        [],
        [],
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the body must be a JSON object of changes"),
        ({"create": [], "Create": []}, "the body has both 'create' and 'Create'"),
        ({"delete": [1]}, "delete[0] is not an object"),
        (
            {"create": [{"dnsName": "a", "recordType": "A", "recordTTL": True}]},
            "create[0].recordTTL must be a whole number of seconds",
        ),
        (
            {"create": [{"dnsName": "a", "recordType": "A", "labels": {"a": 1}}]},
            "create[0].labels must map strings to strings",
        ),
    ],
)
def test_malformed_changes(body: object, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        changes_from_json(body)
    assert str(err.value) == message
