"""Reconcile rounds against the emulator over real sockets: what ends up in the zone,
what the API was asked, what the log says."""

from __future__ import annotations

import itertools
import logging

import pytest
from clock_support import Clock
from reconcile_support import HOME_A, D, engine_for, foreign_bytes, mine, writes

from ddnsd import authdns
from ddnsd.errors import UnsafePlan
from ddnsd.model import DnsEntry, Outcome, RecordSpec

V1, V2 = "203.0.113.1", "203.0.113.2"


def test_address_change_patches_the_entry(emulator):
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    engine = engine_for(emulator, [HOME_A])

    result = engine.run_round({"A": V2})

    assert result.outcomes == {HOME_A.key: Outcome.UPDATED}
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V2)]
    assert emulator.request_count("PATCH") == 1
    assert emulator.request_count("POST", "/v6/domains/{domain}/dns") == 0
    assert result.api_consulted


def test_missing_entry_is_posted_with_the_spec_ttl(emulator):
    spec = RecordSpec(D, "vpn", "A", ttl=120)
    engine = engine_for(emulator, [spec])

    result = engine.run_round({"A": V1})

    assert result.outcomes == {spec.key: Outcome.UPDATED}
    assert mine(emulator, spec) == [DnsEntry("vpn", 120, "A", V1)]


def test_apex_and_aaaa_with_ipv6_host(emulator):
    apex = RecordSpec(D, "@", "A")
    nas = RecordSpec(D, "nas", "AAAA", ipv6_host="::1234")
    emulator.seed_entry(D, DnsEntry("nas", 300, "AAAA", "2001:db8:1:1::1234"))
    engine = engine_for(emulator, [apex, nas])

    result = engine.run_round({"A": V1, "AAAA": "2001:db8:1:2:aaaa:bbbb:cccc:dddd"})

    assert result.ok
    assert mine(emulator, apex) == [DnsEntry("@", 300, "A", V1)]
    assert mine(emulator, nas) == [DnsEntry("nas", 300, "AAAA", "2001:db8:1:2::1234")]


def test_foreign_entries_byte_identical_after_100_rounds(emulator):
    specs = [HOME_A, RecordSpec(D, "@", "A"), RecordSpec("other.test", "home", "A")]
    emulator.seed_entry(D, DnsEntry("home", 300, "TXT", "owned by someone else"))
    emulator.seed_entry(D, DnsEntry("homes", 300, "A", "198.51.100.7"))
    emulator.seed_entry(D, DnsEntry("@", 300, "AAAA", "2001:db8::7"))
    before = foreign_bytes(emulator, specs)
    clock = Clock()
    engine = engine_for(emulator, specs, clock=clock)

    for i in range(100):
        clock.advance(1000)  # past the propagation grace: every round looks again
        result = engine.run_round({"A": V1 if i % 2 else V2, "AAAA": None})
        assert result.ok, result.records

    assert foreign_bytes(emulator, specs) == before
    for spec in specs:
        assert mine(emulator, spec) == [DnsEntry(spec.name, 300, "A", V1)]
    assert emulator.request_count("PATCH") >= 99 * len(specs)  # the rounds did write


def test_no_api_request_while_nothing_changes(emulator):
    specs = [HOME_A, RecordSpec(D, "@", "A"), RecordSpec("other.test", "home", "A")]
    engine = engine_for(emulator, specs, propagation_grace=0)
    first = engine.run_round({"A": V1})
    assert first.changed and first.api_consulted
    baseline = emulator.request_count()

    for _ in range(20):
        result = engine.run_round({"A": V1})
        assert result.outcomes == dict.fromkeys([s.key for s in specs], Outcome.NOOP)
        assert not result.api_consulted
        assert result.api_requests == 0
        assert {r.via for r in result.records.values()} == {"dns"}

    assert emulator.request_count() == baseline


def test_first_round_trusts_dns_then_reads_back_once_per_interval(emulator):
    """No GET in the first round where DNS already agrees; then one read-back per verify
    interval at the domain's own point in it (rounds every 5 minutes for 3 hours)."""
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    clock = Clock()
    engine = engine_for(emulator, [HOME_A], clock=clock, verify_interval=3600)
    gets = lambda: emulator.request_count("GET", "/v6/domains/{domain}/dns")  # noqa: E731

    first = engine.run_round({"A": V1})
    assert (first.outcomes, first.api_consulted, gets()) == ({HOME_A.key: Outcome.NOOP}, False, 0)
    read_at: list[float] = []
    for _ in range(36):
        clock.advance(300)
        before = gets()
        result = engine.run_round({"A": V1})
        assert result.outcomes == {HOME_A.key: Outcome.NOOP}
        read_at += [clock.now] * (gets() - before)
    assert len(read_at) == 3  # one per hour, at the domain's own point in it
    assert all(b - a >= 1800 for a, b in itertools.pairwise(read_at))
    assert writes(emulator) == 0


def test_one_get_per_domain_per_round(emulator):
    specs = [
        HOME_A,
        RecordSpec(D, "@", "A"),
        RecordSpec(D, "home", "AAAA"),
        RecordSpec("other.test", "home", "A"),
        RecordSpec("other.test", "vpn", "A"),
    ]
    engine = engine_for(emulator, specs)

    result = engine.run_round({"A": V1, "AAAA": "2001:db8::5"})

    assert result.ok
    assert emulator.request_count("GET", "/v6/domains/{domain}/dns") == 2
    assert emulator.request_count("POST", "/v6/domains/{domain}/dns") == len(specs)
    assert result.api_requests == 2 + len(specs)


def test_ttl_change_keeps_the_name_and_says_why(emulator, caplog):
    """TransIP keeps one ttl per name + type, so a new ttl cannot be added beside the old
    entry; ddnsd keeps the stored ttl rather than empty the name for a moment."""
    emulator.seed_entry(D, DnsEntry("home", 3600, "A", V1))
    engine = engine_for(emulator, [HOME_A], nameservers=[emulator.dns_server])
    caplog.set_level(logging.INFO, logger="ddnsd.reconcile")

    result = engine.run_round({"A": V2})

    assert result.outcomes == {HOME_A.key: Outcome.UPDATED}
    assert mine(emulator, HOME_A) == [DnsEntry("home", 3600, "A", V2)]
    assert emulator.request_count("DELETE") == 0  # the name was never empty
    assert emulator.request_count("POST", "/v6/domains/{domain}/dns") == 0
    notes = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert notes == [
        f"{HOME_A.key} keeps ttl 3600 (configured: 300): TransIP keeps one ttl per name and "
        "type, so changing it means removing the record for a moment, which ddnsd does not "
        "do; change the ttl in the TransIP control panel"
    ]
    server = authdns.parse_server(emulator.dns_server)
    assert authdns.query(server, HOME_A.fqdn, "A") == [V2]


def test_conflict_is_left_alone_and_costs_nothing_once_known(emulator):
    both = [DnsEntry("home", 300, "A", V1), DnsEntry("home", 300, "A", "198.51.100.9")]
    for e in both:
        emulator.seed_entry(D, e)
    before = emulator.state()
    engine = engine_for(emulator, [HOME_A])

    first = engine.run_round({"A": V2})
    second = engine.run_round({"A": V2})
    baseline = emulator.request_count()
    later = [engine.run_round({"A": V2}) for _ in range(10)]

    for result in (first, second, *later):
        assert result.outcomes == {HOME_A.key: Outcome.CONFLICT}
    assert "exclusive = true" in first.records[HOME_A.key].message
    assert emulator.state() == before
    assert writes(emulator) == 0
    assert emulator.request_count() == baseline  # the conflict is remembered via DNS


def test_exclusive_keeps_one_entry(emulator):
    spec = RecordSpec(D, "home", "A", exclusive=True)
    for content in (V1, "198.51.100.9", V2):
        emulator.seed_entry(D, DnsEntry("home", 300, "A", content))
    engine = engine_for(emulator, [spec])

    result = engine.run_round({"A": V2})

    assert result.outcomes == {spec.key: Outcome.UPDATED}
    assert mine(emulator, spec) == [DnsEntry("home", 300, "A", V2)]
    assert emulator.request_count("DELETE") == 2
    assert emulator.request_count("PATCH") == 0


def test_dry_run_writes_nothing(emulator):
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    spec_new = RecordSpec(D, "vpn", "A")
    before = emulator.state()
    engine = engine_for(emulator, [HOME_A, spec_new], dry_run=True)

    result = engine.run_round({"A": V2})

    assert emulator.state() == before
    assert writes(emulator) == 0
    assert result.records[HOME_A.key].message == (
        f"dry run, nothing written: {HOME_A.key}: {V1} → {V2} (PATCH)"
    )
    assert result.records[spec_new.key].message == (
        f"dry run, nothing written: {spec_new.key}: (none) → {V2} (POST)"
    )
    assert all(r.outcome is Outcome.NOOP for r in result.records.values())


def test_unknown_address_touches_nothing(emulator):
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    engine = engine_for(emulator, [HOME_A])

    result = engine.run_round({"A": None})

    assert result.outcomes == {HOME_A.key: Outcome.FAILED}
    assert "no A address known" in result.records[HOME_A.key].message
    assert emulator.request_count() == 0
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V1)]


def test_log_one_info_line_per_change_and_none_when_in_sync(emulator, caplog):
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    engine = engine_for(emulator, [HOME_A], propagation_grace=0)
    caplog.set_level(logging.DEBUG, logger="ddnsd")

    engine.run_round({"A": V2})
    info = [r for r in caplog.records if r.name.startswith("ddnsd.reconcile")]
    assert [r.getMessage() for r in info if r.levelno >= logging.INFO] == [
        f"{HOME_A.key}: {V1} → {V2} (PATCH)"
    ]

    caplog.clear()
    for _ in range(3):
        engine.run_round({"A": V2})
    quiet = [r for r in caplog.records if r.name.startswith("ddnsd.reconcile")]
    assert quiet, "in-sync rounds still say so at DEBUG"
    assert [r.getMessage() for r in quiet if r.levelno >= logging.INFO] == []


@pytest.mark.timeout(60)
def test_dns_failure_falls_back_to_the_api(emulator, caplog):
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    engine = engine_for(
        emulator,
        [HOME_A],
        nameservers=["127.0.0.1:9"],  # discard port: nothing answers DNS there
        propagation_grace=0,
        dns_query=lambda ns, fqdn, rdtype: authdns.query(ns, fqdn, rdtype, timeout=0.2),
    )
    caplog.set_level(logging.WARNING, logger="ddnsd.reconcile")

    results = [engine.run_round({"A": V1}) for _ in range(3)]

    assert all(r.outcomes == {HOME_A.key: Outcome.NOOP} for r in results)
    assert all(r.api_consulted for r in results)
    assert emulator.request_count("GET", "/v6/domains/{domain}/dns") == 3
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1  # said once, not every round
    assert "cannot check the authoritative nameservers" in warnings[0]
    assert "asking the API" in warnings[0]


def test_duplicate_records_refused_before_any_request(emulator):
    with pytest.raises(UnsafePlan, match="configured twice"):
        engine_for(emulator, [HOME_A, RecordSpec(D, "HOME", "A", ttl=60)])
    assert emulator.request_count() == 0


def test_address_back_within_the_grace_is_written_although_dns_still_shows_it(emulator):
    """A → B → A while the nameservers still serve A: the API holds B (ddnsd wrote it a
    moment ago), so the stale DNS answer must not pass for "in sync"."""
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    clock = Clock()
    engine = engine_for(emulator, [HOME_A], clock=clock)
    assert engine.run_round({"A": V1}).outcomes == {HOME_A.key: Outcome.NOOP}
    emulator.set_propagation_delay(3600)  # the nameservers keep serving V1

    clock.advance(60)
    assert engine.run_round({"A": V2}).outcomes == {HOME_A.key: Outcome.UPDATED}
    clock.advance(60)
    back = engine.run_round({"A": V1})

    assert back.outcomes == {HOME_A.key: Outcome.UPDATED}
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V1)]
