"""The planner's rules, one named case each: specs + addresses + zone → plan."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field, replace

import pytest

from ddnsd.errors import UnsafePlan
from ddnsd.model import DnsEntry, RecordSpec
from ddnsd.reconcile.planner import (
    Change,
    Decision,
    Plan,
    check_plan,
    desired_content,
    plan_domain,
    plan_record,
)

D = "example.test"
HOME_A = RecordSpec(D, "home", "A")
HOME_A_EXCL = RecordSpec(D, "home", "A", exclusive=True)
HOME_AAAA = RecordSpec(D, "home", "AAAA")

# Entries every zone has and the planner must never touch.
FOREIGN = [
    DnsEntry("@", 3600, "MX", "10 mail"),
    DnsEntry("www", 3600, "CNAME", "@"),
    DnsEntry("mail", 3600, "A", "198.51.100.25"),
    DnsEntry("home", 300, "TXT", "v=spf1 -all"),
]


def E(name: str, expire: int, rtype: str, content: str) -> DnsEntry:
    return DnsEntry(name, expire, rtype, content)


@dataclass
class Case:
    id: str
    specs: list[RecordSpec]
    addresses: dict[str, str | None]
    entries: list[DnsEntry]
    changes: list[tuple[str, DnsEntry]] = field(default_factory=list)
    decisions: dict[str, Decision] = field(default_factory=dict)
    final: list[DnsEntry] | None = None  # the spec's entries after the plan ran
    note: str = ""  # a text one of the record's notes contains ("" = no notes)


CASES = [
    Case(
        "one-entry/same-ip/noop",
        [HOME_A],
        {HOME_A.key: "203.0.113.1"},
        [*FOREIGN, E("home", 300, "A", "203.0.113.1")],
        decisions={HOME_A.key: Decision.IN_SYNC},
        final=[E("home", 300, "A", "203.0.113.1")],
    ),
    Case(
        "one-entry/new-ip/patch",
        [HOME_A],
        {HOME_A.key: "203.0.113.2"},
        [*FOREIGN, E("home", 300, "A", "203.0.113.1")],
        changes=[("PATCH", E("home", 300, "A", "203.0.113.2"))],
        decisions={HOME_A.key: Decision.CHANGES},
        final=[E("home", 300, "A", "203.0.113.2")],
    ),
    Case(
        "one-entry/new-ip/patch-keeps-stored-expire-and-name",
        [RecordSpec(D, "Home", "A", ttl=300)],
        {"Home.example.test/A": "203.0.113.2"},
        [*FOREIGN, E("HOME", 300, "A", "203.0.113.1")],
        changes=[("PATCH", E("HOME", 300, "A", "203.0.113.2"))],
        final=[E("HOME", 300, "A", "203.0.113.2")],
    ),
    Case(
        "none/post",
        [HOME_A],
        {HOME_A.key: "203.0.113.2"},
        list(FOREIGN),
        changes=[("POST", E("home", 300, "A", "203.0.113.2"))],
        decisions={HOME_A.key: Decision.CHANGES},
        final=[E("home", 300, "A", "203.0.113.2")],
    ),
    # TransIP keeps one ttl per name + type: "POST new ttl, then DELETE old" is refused
    # there, and DELETE-then-POST would empty the name. The stored ttl stays, with a note.
    Case(
        "ttl-change/keeps-stored-ttl/noop-with-note",
        [HOME_A],
        {HOME_A.key: "203.0.113.1"},
        [*FOREIGN, E("home", 3600, "A", "203.0.113.1")],
        decisions={HOME_A.key: Decision.IN_SYNC},
        final=[E("home", 3600, "A", "203.0.113.1")],
        note="keeps ttl 3600 (configured: 300)",
    ),
    Case(
        "ttl-and-ip-change/patch-keeps-stored-ttl",
        [HOME_A],
        {HOME_A.key: "203.0.113.2"},
        [*FOREIGN, E("home", 3600, "A", "203.0.113.1")],
        changes=[("PATCH", E("home", 3600, "A", "203.0.113.2"))],
        final=[E("home", 3600, "A", "203.0.113.2")],
        note="keeps ttl 3600 (configured: 300)",
    ),
    Case(
        "two-entries/not-exclusive/conflict",
        [HOME_A],
        {HOME_A.key: "203.0.113.2"},
        [*FOREIGN, E("home", 300, "A", "203.0.113.1"), E("home", 300, "A", "203.0.113.9")],
        decisions={HOME_A.key: Decision.CONFLICT},
        final=[E("home", 300, "A", "203.0.113.1"), E("home", 300, "A", "203.0.113.9")],
    ),
    Case(
        "two-entries/not-exclusive/one-holds-ip/conflict",
        [HOME_A],
        {HOME_A.key: "203.0.113.1"},
        [*FOREIGN, E("home", 300, "A", "203.0.113.1"), E("home", 300, "A", "203.0.113.9")],
        decisions={HOME_A.key: Decision.CONFLICT},
    ),
    Case(
        "two-entries/exclusive/keep-one-delete-rest",
        [HOME_A_EXCL],
        {HOME_A.key: "203.0.113.9"},
        [
            *FOREIGN,
            E("home", 300, "A", "203.0.113.1"),
            E("home", 300, "A", "203.0.113.9"),
            E("home", 300, "A", "203.0.113.7"),
        ],
        changes=[
            ("DELETE", E("home", 300, "A", "203.0.113.1")),
            ("DELETE", E("home", 300, "A", "203.0.113.7")),
        ],
        decisions={HOME_A.key: Decision.CHANGES},
        final=[E("home", 300, "A", "203.0.113.9")],
    ),
    Case(
        "two-entries/exclusive/none-holds-ip/delete-then-patch",
        [HOME_A_EXCL],
        {HOME_A.key: "203.0.113.2"},
        [*FOREIGN, E("home", 300, "A", "203.0.113.1"), E("home", 300, "A", "203.0.113.9")],
        changes=[
            ("DELETE", E("home", 300, "A", "203.0.113.9")),
            ("PATCH", E("home", 300, "A", "203.0.113.2")),
        ],
        final=[E("home", 300, "A", "203.0.113.2")],
    ),
    Case(
        "two-entries/exclusive/other-ttl/keep-holder-and-its-ttl",
        [HOME_A_EXCL],
        {HOME_A.key: "203.0.113.2"},
        [*FOREIGN, E("home", 60, "A", "203.0.113.1"), E("home", 60, "A", "203.0.113.2")],
        changes=[("DELETE", E("home", 60, "A", "203.0.113.1"))],
        final=[E("home", 60, "A", "203.0.113.2")],
        note="keeps ttl 60",
    ),
    Case(
        "two-entries/exclusive/identical-duplicates",
        [HOME_A_EXCL],
        {HOME_A.key: "203.0.113.1"},
        [*FOREIGN, E("home", 300, "A", "203.0.113.1"), E("home", 300, "A", "203.0.113.1")],
        changes=[("DELETE", E("home", 300, "A", "203.0.113.1"))],
        final=[E("home", 300, "A", "203.0.113.1")],
    ),
    Case(
        "other-names-untouched",
        [HOME_A, RecordSpec(D, "vpn", "A")],
        {HOME_A.key: "203.0.113.2", "vpn.example.test/A": "203.0.113.2"},
        [
            *FOREIGN,
            E("home", 300, "A", "203.0.113.1"),
            E("home", 300, "AAAA", "2001:db8::1"),
            E("homes", 300, "A", "203.0.113.1"),
            E("vpn.home", 300, "A", "203.0.113.1"),
        ],
        changes=[
            ("PATCH", E("home", 300, "A", "203.0.113.2")),
            ("POST", E("vpn", 300, "A", "203.0.113.2")),
        ],
        final=[E("home", 300, "A", "203.0.113.2")],
    ),
    Case(
        "case-insensitive-name",
        [RecordSpec(D, "HoMe", "A")],
        {"HoMe.example.test/A": "203.0.113.1"},
        [*FOREIGN, E("home", 300, "A", "203.0.113.1")],
        decisions={"HoMe.example.test/A": Decision.IN_SYNC},
    ),
    Case(
        "apex",
        [RecordSpec(D, "@", "A")],
        {"example.test/A": "203.0.113.5"},
        [*FOREIGN, E("@", 300, "A", "203.0.113.4"), E("home", 300, "A", "203.0.113.4")],
        changes=[("PATCH", E("@", 300, "A", "203.0.113.5"))],
    ),
    Case(
        "apex/none/post",
        [RecordSpec(D, "@", "A", ttl=60)],
        {"example.test/A": "203.0.113.5"},
        list(FOREIGN),
        changes=[("POST", E("@", 60, "A", "203.0.113.5"))],
    ),
    Case(
        "aaaa-ipv6-host",
        [RecordSpec(D, "nas", "AAAA", ipv6_host="::1234")],
        {"nas.example.test/AAAA": "2001:db8:aa:bb:1111:2222:3333:4444"},
        [*FOREIGN, E("nas", 300, "AAAA", "2001:db8:aa:1::1234")],
        changes=[("PATCH", E("nas", 300, "AAAA", "2001:db8:aa:bb::1234"))],
    ),
    Case(
        "aaaa/same-address-other-spelling/noop",
        [HOME_AAAA],
        {HOME_AAAA.key: "2001:DB8:0:0::1"},
        [*FOREIGN, E("home", 300, "AAAA", "2001:db8::1")],
        decisions={HOME_AAAA.key: Decision.IN_SYNC},
    ),
    Case(
        "unknown-address/noop",
        [HOME_A, HOME_AAAA],
        {HOME_A.key: None},
        [*FOREIGN, E("home", 300, "A", "203.0.113.1")],
        decisions={HOME_A.key: Decision.UNKNOWN, HOME_AAAA.key: Decision.UNKNOWN},
    ),
]


def _run(plan: Plan, entries: list[DnsEntry]) -> list[DnsEntry]:
    """Apply ``plan`` the way TransIP would (PATCH: name + expire + type)."""
    state = list(entries)
    for c in plan.changes:
        if c.kind == "add":
            state.append(c.entry)
        elif c.kind == "delete":
            state.remove(c.entry)
        else:
            (hit,) = [
                x
                for x in state
                if (x.name, x.expire, x.type) == (c.entry.name, c.entry.expire, c.entry.type)
            ]
            state[state.index(hit)] = c.entry
    return state


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan(case: Case) -> None:
    plan = plan_domain(D, case.specs, case.addresses, case.entries)

    assert [(c.method, c.entry) for c in plan.changes] == case.changes
    for key, decision in case.decisions.items():
        assert plan.record(key).decision is decision
    notes = [n for r in plan.records for n in r.notes]
    if case.note:
        assert any(case.note in n for n in notes), notes
    else:
        assert notes == []
    after = _run(plan, case.entries)
    # Foreign entries are untouched, in place and byte-identical.
    assert [e for e in after if e in FOREIGN] == FOREIGN
    if case.final is not None:
        spec = case.specs[0]
        mine = [e for e in after if e.name.lower() == spec.name.lower() and e.type == spec.type]
        assert mine == case.final


UNSAFE = [
    (
        "duplicate-specs/unsafe",
        [HOME_A, RecordSpec(D, "HOME", "A", ttl=60)],
        "configured twice",
    ),
    ("spec-of-other-domain/unsafe", [RecordSpec("other.test", "home", "A")], "not in domain"),
    ("txt-spec/unsafe", [RecordSpec(D, "home", "TXT")], "only manages A and AAAA"),
]


@pytest.mark.parametrize(
    ("specs", "needle"), [(s, n) for _, s, n in UNSAFE], ids=[i for i, _, _ in UNSAFE]
)
def test_unsafe_specs(specs: list[RecordSpec], needle: str) -> None:
    addresses = {s.key: "203.0.113.1" for s in specs}
    with pytest.raises(UnsafePlan, match=needle):
        plan_domain(D, specs, addresses, FOREIGN)


BAD_ADDRESSES = [
    ("garbage-address/unsafe", HOME_A, "<html>", "not an IPv4 address"),
    ("v6-for-a/unsafe", HOME_A, "2001:db8::1", "not an IPv4 address"),
    ("v4-for-aaaa/unsafe", HOME_AAAA, "203.0.113.1", "not an IPv6 address"),
    (
        "ipv6-host-too-long/unsafe",
        RecordSpec(D, "nas", "AAAA", ipv6_host="2001:db8::1"),
        "2001:db8::5",
        "only the last 64 bits",
    ),
]


@pytest.mark.parametrize(
    ("spec", "address", "needle"),
    [(s, a, n) for _, s, a, n in BAD_ADDRESSES],
    ids=[i for i, *_ in BAD_ADDRESSES],
)
def test_bad_addresses_refused(spec: RecordSpec, address: str, needle: str) -> None:
    with pytest.raises(UnsafePlan, match=needle):
        plan_domain(D, [spec], {spec.key: address}, FOREIGN)


UNSAFE_CHANGES = [
    (
        "change-outside-specs/unsafe",
        Change("update", D, E("mail", 3600, "A", "203.0.113.1"), HOME_A.key, "x"),
        "not a configured record",
    ),
    (
        "patch-multiple-matches/unsafe",
        Change("update", D, E("home", 300, "A", "203.0.113.3"), HOME_A.key, "x"),
        "would match 2 entries",
    ),
    (
        "delete-absent/unsafe",
        Change("delete", D, E("home", 300, "A", "192.0.2.99"), HOME_A.key, "x"),
        "no such entry",
    ),
    (
        "post-duplicate/unsafe",
        Change("add", D, E("home", 300, "A", "203.0.113.1"), HOME_A.key, "x"),
        "exists already",
    ),
    (
        "post-mixing-ttls/unsafe",
        Change("add", D, E("home", 60, "A", "203.0.113.3"), HOME_A.key, "x"),
        "one ttl per name and type",
    ),
    (
        "post-garbage/unsafe",
        Change("add", D, E("home", 300, "A", "not-an-ip"), HOME_A.key, "x"),
        "not an IPv4 address",
    ),
]


@pytest.mark.parametrize(
    ("change", "needle"),
    [(c, n) for _, c, n in UNSAFE_CHANGES],
    ids=[i for i, _, _ in UNSAFE_CHANGES],
)
def test_check_plan_refuses(change: Change, needle: str) -> None:
    entries = [*FOREIGN, E("home", 300, "A", "203.0.113.1"), E("home", 300, "A", "203.0.113.2")]
    plan = plan_domain(D, [HOME_A], {}, entries)
    unsafe = Plan(D, (replace(plan.records[0], changes=(change,)),))
    with pytest.raises(UnsafePlan, match=needle):
        check_plan(unsafe, [HOME_A], entries)


def test_delete_that_empties_the_name_is_refused() -> None:
    entries = [*FOREIGN, E("home", 300, "A", "203.0.113.1")]
    base = plan_domain(D, [HOME_A], {}, entries)
    bad = Change("delete", D, entries[-1], HOME_A.key, "x")
    with pytest.raises(UnsafePlan, match="empty"):
        check_plan(Plan(D, (replace(base.records[0], changes=(bad,)),)), [HOME_A], entries)


COMBINE = [
    ("prefix+host", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "::1234", "2001:db8:1:2::1234"),
    ("idempotent", "2001:db8:1:2::1234", "::1234", "2001:db8:1:2::1234"),
    ("full-host", "2001:db8:1:2::", "::a:b:c:d", "2001:db8:1:2:a:b:c:d"),
]


@pytest.mark.parametrize(
    ("address", "host", "expected"),
    [(a, h, x) for _, a, h, x in COMBINE],
    ids=[i for i, *_ in COMBINE],
)
def test_desired_content_ipv6_host(address: str, host: str, expected: str) -> None:
    spec = RecordSpec(D, "nas", "AAAA", ipv6_host=host)
    assert desired_content(spec, address) == expected


def test_planner_imports_no_io() -> None:
    """The seam from DESIGN.md: the planner pulls in no requests, sockets or DNS library."""
    code = (
        "import sys; before = set(sys.modules); import ddnsd.reconcile.planner; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} & "
        "{'requests', 'urllib3', 'socket', 'dns', 'http', 'ssl', 'time', 'logging'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


A300 = DnsEntry("home", 300, "A", "203.0.113.1")
A3600 = DnsEntry("home", 3600, "A", "203.0.113.1")
OTHER60 = DnsEntry("home", 60, "A", "198.51.100.9")
HOME = RecordSpec("example.test", "home", "A", ttl=300)
EXPIRES = {
    # (spec, entries, address) -> the expire of the record's one entry after the plan
    "no entry: the configured ttl": (HOME, [], "203.0.113.7", 300),
    "one entry: its own expire": (HOME, [A3600], "203.0.113.7", 3600),
    "in sync: its own expire": (HOME, [A3600], "203.0.113.1", 3600),
    "exclusive: the kept one's": (
        replace(HOME, exclusive=True),
        [OTHER60, A3600],
        "203.0.113.1",
        3600,
    ),
    "conflict: unknown": (HOME, [A300, OTHER60], "203.0.113.7", None),
    "address unknown": (HOME, [A300], None, None),
}


@pytest.mark.parametrize(
    ("spec", "entries", "address", "expire"), EXPIRES.values(), ids=EXPIRES.keys()
)
def test_the_plan_knows_the_expire_its_entry_ends_with(
    spec: RecordSpec, entries: list[DnsEntry], address: str | None, expire: int | None
) -> None:
    """What records.json remembers, so a change within the grace can PATCH it directly."""
    assert plan_record(spec, address, entries).expire == expire
