"""Fewer requests per change and the request budget, engine against the emulator over real
sockets: what the emulator saw (its own log), what ended up in the zone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
from clock_support import Clock
from reconcile_support import HOME_A, D, engine_for, mine, writes

from ddnsd.emulator.ratelimit import RateLimiter
from ddnsd.model import DnsEntry, Outcome, RecordSpec
from ddnsd.reconcile.engine import Engine
from ddnsd.reconcile.memory import Memory
from ddnsd.reconcile.schedule import slot_start, verify_offset
from ddnsd.statedir import StateDir
from ddnsd.transip.budget import DDNS, Budget
from ddnsd.transip.client import make_client

V1, V2, V3 = "203.0.113.1", "203.0.113.2", "203.0.113.3"
DNS = "/v6/domains/{domain}/dns"


def log(emulator: Any) -> list[tuple[str, str, int]]:
    rows = requests.get(emulator.base_url + "/_emulator/log", timeout=5).json()["requests"]
    return [(r["method"], r["path"], r["status"]) for r in rows]


def test_address_change_visible_in_dns_is_one_patch_without_a_get(emulator: Any) -> None:
    home6 = RecordSpec(D, "home", "AAAA")
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    emulator.seed_entry(D, DnsEntry("home", 300, "AAAA", "2001:db8::1"))
    engine = engine_for(emulator, [HOME_A, home6])

    result = engine.run_round({"A": V2, "AAAA": "2001:db8::2"})

    assert result.outcomes == {HOME_A.key: Outcome.UPDATED, home6.key: Outcome.UPDATED}
    assert log(emulator) == [("POST", "/v6/auth", 201), ("PATCH", DNS, 204), ("PATCH", DNS, 204)]
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V2)]
    assert mine(emulator, home6) == [DnsEntry("home", 300, "AAAA", "2001:db8::2")]


def test_a_patch_that_matches_nothing_falls_back_to_one_get(emulator_factory: Any) -> None:
    """DNS still shows the old entry (ttl 300) while TransIP already holds one with ttl 60:
    the PATCH built from DNS gets 406, one GET shows the real entry, its PATCH lands."""
    emulator = emulator_factory(propagation_delay=600)
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))  # seeds are served at once
    auth = {"Authorization": f"Bearer {emulator.token()}"}
    url = f"{emulator.api_url}/domains/{D}/dns"
    by_hand = {"name": "home", "expire": 300, "type": "A", "content": V1}
    assert requests.delete(url, json={"dnsEntry": by_hand}, headers=auth, timeout=5).ok
    by_hand.update(expire=60, content=V2)
    assert requests.post(url, json={"dnsEntry": by_hand}, headers=auth, timeout=5).ok
    engine = engine_for(emulator, [HOME_A])

    result = engine.run_round({"A": V3})

    assert result.outcomes == {HOME_A.key: Outcome.UPDATED}
    assert mine(emulator, HOME_A) == [DnsEntry("home", 60, "A", V3)]
    assert log(emulator)[-4:] == [
        ("POST", "/v6/auth", 201),
        ("PATCH", DNS, 406),  # Could not find match for DNS entry 'home 300 A'
        ("GET", DNS, 200),
        ("PATCH", DNS, 204),
    ]


def test_a_second_change_within_the_grace_patches_the_remembered_entry(
    emulator_factory: Any, tmp_path: Path
) -> None:
    """The nameservers lag (propagation delay 600 s), so they cannot show ddnsd's own write
    of a minute ago when the address changes again: the entry ddnsd remembers writing
    (content and expire, kept in records.json across processes) is PATCHed, no GET."""
    emulator = emulator_factory(propagation_delay=600)
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))  # seeds are served at once
    clock = Clock(quiet_start([D], 120, 3600))  # no read-back (verify_interval 1 h) due

    def engine() -> Engine:  # a fresh process each round, as `ddnsd once` is
        memory = Memory(StateDir(tmp_path), [HOME_A.key], [D])
        return engine_for(emulator, [HOME_A], clock=clock, memory=memory)

    assert engine().run_round({"A": V2}).outcomes == {HOME_A.key: Outcome.UPDATED}
    clock.advance(60)
    seen = len(log(emulator))
    assert engine().run_round({"A": V3}).outcomes == {HOME_A.key: Outcome.UPDATED}
    assert [r for r in log(emulator)[seen:] if r[1] == DNS] == [("PATCH", DNS, 204)]
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V3)]


def test_a_remembered_entry_changed_by_hand_costs_one_get(emulator_factory: Any) -> None:
    """Within the grace someone changes the entry's TTL in the control panel: the PATCH of
    the remembered entry gets 406, one GET shows the real entry, its PATCH lands."""
    emulator = emulator_factory(propagation_delay=600)
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    clock = Clock(quiet_start([D], 120, 3600))
    engine = engine_for(emulator, [HOME_A], clock=clock)
    assert engine.run_round({"A": V2}).outcomes == {HOME_A.key: Outcome.UPDATED}
    auth = {"Authorization": f"Bearer {emulator.token()}"}
    url = f"{emulator.api_url}/domains/{D}/dns"
    by_hand = {"name": "home", "expire": 300, "type": "A", "content": V2}
    assert requests.delete(url, json={"dnsEntry": by_hand}, headers=auth, timeout=5).ok
    by_hand.update(expire=60)
    assert requests.post(url, json={"dnsEntry": by_hand}, headers=auth, timeout=5).ok
    clock.advance(60)
    seen = len(log(emulator))

    assert engine.run_round({"A": V3}).outcomes == {HOME_A.key: Outcome.UPDATED}
    assert [r for r in log(emulator)[seen:] if r[1] == DNS] == [
        ("PATCH", DNS, 406),
        ("GET", DNS, 200),
        ("PATCH", DNS, 204),
    ]
    assert mine(emulator, HOME_A) == [DnsEntry("home", 60, "A", V3)]


def test_a_conflict_found_without_a_dns_view_is_asked_again_once_the_name_is_empty(
    emulator_factory: Any,
) -> None:
    """ddnsd POSTs the record, someone adds a second entry, the remembered PATCH finds the
    conflict (406 multiple matches, GET): the nameservers (lagging) never showed any of
    it. When the user then deletes both entries, the API is asked again and the record is
    written: an empty name is not "the same conflict as before"."""
    emulator = emulator_factory(propagation_delay=600)  # the nameservers serve nothing yet
    clock = Clock(quiet_start([D], 300, 3600))
    engine = engine_for(emulator, [HOME_A], clock=clock)
    assert engine.run_round({"A": V1}).outcomes == {HOME_A.key: Outcome.UPDATED}
    auth = {"Authorization": f"Bearer {emulator.token()}"}
    url = f"{emulator.api_url}/domains/{D}/dns"
    theirs = {"name": "home", "expire": 300, "type": "A", "content": "198.51.100.9"}
    assert requests.post(url, json={"dnsEntry": theirs}, headers=auth, timeout=5).ok
    clock.advance(60)
    assert engine.run_round({"A": V2}).outcomes == {HOME_A.key: Outcome.CONFLICT}
    for content in (V1, "198.51.100.9"):
        gone = {**theirs, "content": content}
        assert requests.delete(url, json={"dnsEntry": gone}, headers=auth, timeout=5).ok
    clock.advance(60)

    assert engine.run_round({"A": V2}).outcomes == {HOME_A.key: Outcome.UPDATED}
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V2)]


def test_a_remembered_entry_keeps_its_own_ttl(emulator_factory: Any, tmp_path: Path) -> None:
    """The stored entry has ttl 3600, the configuration 300 (TransIP keeps one expire per
    name + type, so ddnsd keeps 3600): the remembered PATCH carries 3600 and lands first time."""
    emulator = emulator_factory(propagation_delay=600)
    emulator.seed_entry(D, DnsEntry("home", 3600, "A", V1))
    clock = Clock(quiet_start([D], 120, 3600))
    engine = engine_for(emulator, [HOME_A], clock=clock)
    assert engine.run_round({"A": V2}).outcomes == {HOME_A.key: Outcome.UPDATED}
    clock.advance(60)
    seen = len(log(emulator))
    assert engine.run_round({"A": V3}).outcomes == {HOME_A.key: Outcome.UPDATED}
    assert [r for r in log(emulator)[seen:] if r[1] == DNS] == [("PATCH", DNS, 204)]
    assert mine(emulator, HOME_A) == [DnsEntry("home", 3600, "A", V3)]


def test_two_entries_at_the_name_stay_a_conflict_without_a_write(emulator: Any) -> None:
    for content in (V1, "198.51.100.9"):
        emulator.seed_entry(D, DnsEntry("home", 300, "A", content))
    engine = engine_for(emulator, [HOME_A])

    result = engine.run_round({"A": V2})

    assert result.outcomes == {HOME_A.key: Outcome.CONFLICT}
    assert "2 entries" in result.records[HOME_A.key].message
    assert writes(emulator) == 0
    assert log(emulator) == [("POST", "/v6/auth", 201), ("GET", DNS, 200)]


def test_a_thousand_domains_in_sync_cost_no_request_in_the_first_round(
    emulator_factory: Any,
) -> None:
    domains = [f"d{i:04d}.test" for i in range(1000)]
    emulator = emulator_factory(domains=domains)
    specs = []
    for d in domains:
        for name in ("@", "home"):
            emulator.emulator.store.seed(d, DnsEntry(name, 300, "A", V1))
            specs.append(RecordSpec(d, name, "A"))
    engine = engine_for(emulator, specs)

    result = engine.run_round({"A": V1})

    assert set(result.outcomes.values()) == {Outcome.NOOP}
    assert {r.via for r in result.records.values()} == {"dns"}
    assert (result.api_requests, emulator.request_count()) == (0, 0)


VERIFY = 86400.0  # five domains' read-back points leave a gap of at least VERIFY / 5


def quiet_start(domains: list[str], span: float, interval: float = VERIFY) -> float:
    """A start time (near now) with no domain's read-back point within the next ``span``
    seconds: a test's rounds must not be joined by a verification GET."""
    start = time.time()
    while any(
        slot_start(start + span, verify_offset(d, interval), interval) > start for d in domains
    ):
        start += span
    return start


def paced(emulator: Any, clock: Clock, specs: list[RecordSpec]) -> Engine:
    """An engine with a request budget; emulator and budget both on ``clock``."""
    emulator.emulator.limiter = RateLimiter(10, 900, clock)  # the emulator's window, on it
    budget = Budget(None, login=emulator.login, api_url=emulator.api_url, clock=clock)
    client = make_client(
        emulator.api_url, emulator.login, emulator.private_key_path, budget=budget, kind=DDNS
    )
    return Engine(
        client,
        specs,
        nameservers=[emulator.dns_server],
        clock=clock,
        budget=client.budget_until,
        verify_interval=VERIFY,
    )


def test_writes_are_paced_within_the_budget_and_the_deferred_go_first(
    emulator_factory: Any,
) -> None:
    domains = [f"d{i}.test" for i in range(5)]
    emulator = emulator_factory(domains=domains)
    specs = [RecordSpec(d, name, "A") for d in domains for name in ("@", "home")]
    for spec in specs:
        emulator.seed_entry(spec.domain, DnsEntry(spec.name, 300, "A", V1))
    # near the real clock (the token's lifetime is on it), away from any read-back point
    clock = Clock(quiet_start(domains, 2000.0))
    engine = paced(emulator, clock, specs)

    first = engine.run_round({"A": V2})

    # 10 per window, 1 kept for ACME: /auth + four domains' two PATCHes; d4 waits, whole
    by_domain = {s.domain: first.outcomes[s.key] for s in specs}
    assert by_domain == {**dict.fromkeys(domains[:4], Outcome.UPDATED), "d4.test": Outcome.DEFERRED}
    assert first.deferred == 2
    assert first.deferred_until is not None and first.deferred_until >= clock.now + 900
    assert "deferred until" in first.records["d4.test/A"].message

    clock.now = first.deferred_until
    second = engine.run_round({"A": V3})  # a new address for all: d4 has waited longest

    by_domain = {s.domain: second.outcomes[s.key] for s in specs}
    assert by_domain == {
        "d4.test": Outcome.UPDATED,
        **dict.fromkeys(domains[:3], Outcome.UPDATED),
        "d3.test": Outcome.DEFERRED,
    }
    assert all(status != 429 for _, _, status in log(emulator))
    assert [e.content for s in specs if s.domain == "d4.test" for e in mine(emulator, s)] == [
        V3
    ] * 2


def test_once_every_5_minutes_for_an_hour_reads_at_most_once(emulator: Any, tmp_path: Path) -> None:
    """Twelve `once` processes an hour apart by 5 minutes (fresh client and engine each, one
    state dir): at most one GET and one token, wherever the hour falls."""
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    start = time.time()
    for i in range(12):
        client = make_client(
            emulator.api_url,
            emulator.login,
            emulator.private_key_path,
            cache_dir=tmp_path,
            kind=DDNS,
        )
        engine = Engine(
            client,
            [HOME_A],
            nameservers=[emulator.dns_server],
            clock=lambda i=i: start + 300 * i,
            memory=Memory(StateDir(tmp_path), [HOME_A.key], [D]),
        )
        assert engine.run_round({"A": V1}).outcomes == {HOME_A.key: Outcome.NOOP}
    assert emulator.request_count("GET", DNS) <= 1
    assert emulator.request_count("POST", "/v6/auth") <= 1
