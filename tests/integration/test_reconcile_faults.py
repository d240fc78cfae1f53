"""Reconcile under emulator faults (500, 409, lost answers) and slow propagation:
converges, never duplicates an entry, never writes twice while DNS lags."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from clock_support import Clock
from reconcile_support import HOME_A, D, client_for, engine_for, mine, writes
from tls_support import GarblingProxy, self_signed

from ddnsd import authdns
from ddnsd.model import DnsEntry, Outcome, RecordSpec
from ddnsd.reconcile.engine import Engine
from ddnsd.transip.budget import DDNS
from ddnsd.transip.client import TransipClient, make_client
from ddnsd.transip.transport import describe_failure

V1, V2, V3 = "203.0.113.1", "203.0.113.2", "203.0.113.3"
DNS = "/v6/domains/{domain}/dns"

POST_500 = {"kind": "500", "method": "POST", "path": DNS}
PATCH_500 = {"kind": "500", "method": "PATCH", "path": DNS}

SCRIPTED = [
    # (id, seeded entry or None, fault script, address, POSTs the emulator sees)
    ("post/500", None, [POST_500], V1, 2),
    ("post/lost-but-applied/not-repeated", None, [{**POST_500, "kind": "lost"}], V1, 1),
    ("post/409-being-saved", None, [{**POST_500, "kind": "409"}], V1, 2),
    ("post/500-twice/fails-then-converges", None, [POST_500] * 2, V1, 3),
    ("patch/500", V1, [PATCH_500], V2, 0),
    ("patch/409", V1, [{**PATCH_500, "kind": "409"}], V2, 0),
    ("patch/lost-but-applied", V1, [{**PATCH_500, "kind": "lost"}], V2, 0),
    ("patch/500-every-retry/replans", V1, [PATCH_500] * 5, V2, 0),
]


@pytest.mark.parametrize(
    ("seed", "script", "address", "posts"),
    [row[1:] for row in SCRIPTED],
    ids=[row[0] for row in SCRIPTED],
)
def test_scripted_fault_converges_without_duplicates(emulator, seed, script, address, posts):
    if seed is not None:
        emulator.seed_entry(D, DnsEntry("home", 300, "A", seed))
    clock = Clock()
    engine = engine_for(emulator, [HOME_A], clock=clock)
    emulator.script_faults(script)

    outcomes = []
    for _ in range(3):
        outcomes.append(engine.run_round({"A": address}).outcomes[HOME_A.key])
        assert len(mine(emulator, HOME_A)) <= 1
        clock.advance(4000)  # past grace and verify: every round reads the zone again

    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", address)]
    assert outcomes[-1] is Outcome.NOOP  # converged: nothing left to do
    assert Outcome.UPDATED in outcomes
    assert emulator.request_count("POST", DNS) == posts  # never a blind re-POST


def test_post_whose_answer_broke_in_tls_is_not_sent_again(emulator, tmp_path, monkeypatch, caplog):
    """TLS failing while a POST's answer is read (the request went out, the emulator
    applied it) is a lost answer like a reset: the zone is read again, the POST is not
    repeated. Only a refused certificate means "never sent"."""
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the client trusts the proxy
    proxy = GarblingProxy(emulator.api_url, cert, key)
    try:
        client = make_client(
            proxy.api_url,
            emulator.login,
            emulator.private_key_path,
            backoff_base=0.01,
            backoff_cap=0.05,
            kind=DDNS,
        )
        engine = Engine(client, [HOME_A], nameservers=[emulator.dns_server])
        proxy.garble("POST", f"/v6/domains/{D}/dns")
        result = engine.run_round({"A": V1})
    finally:
        proxy.close()

    assert result.outcomes == {HOME_A.key: Outcome.UPDATED}
    assert "the write whose answer was lost was applied" in result.records[HOME_A.key].message
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V1)]
    assert emulator.request_count("POST", DNS) == 1  # never a blind re-POST
    zone = f"/v6/domains/{D}/dns"
    assert [(m, s) for m, p, s in proxy.seen if p == zone][-2:] == [("POST", 0), ("GET", 200)]
    assert "the TLS connection failed before an answer arrived, so TransIP may or may not" in (
        caplog.text
    )


def test_tls_failures_on_a_real_socket_tell_sent_from_never_sent(emulator, tmp_path):
    """The exception chains urllib3 really builds: a refused certificate (nothing reached
    the API) against TLS broken while reading the answer (the API got the request)."""
    cert, key = self_signed(tmp_path)
    proxy = GarblingProxy(emulator.api_url, cert, key)
    try:
        with pytest.raises(requests.exceptions.SSLError) as refused:
            requests.get(proxy.api_url + "/api-test", timeout=10)  # the CA is not trusted
        proxy.garble("POST", "/v6/api-test")
        with pytest.raises(requests.exceptions.SSLError) as broken:
            requests.post(proxy.api_url + "/api-test", data=b"{}", verify=str(cert), timeout=10)
    finally:
        proxy.close()
    assert describe_failure(refused.value, 10) == (
        "TLS handshake failed (check the certificate)",
        False,
    )
    assert describe_failure(broken.value, 10) == (
        "the TLS connection failed before an answer arrived",
        True,
    )
    assert proxy.seen == [("POST", "/v6/api-test", 0)]  # it reached the API all the same


class EditsBehindOurBack:
    """The real client, plus someone editing the zone by hand right after ddnsd looked
    (after its read, or after the nameservers answered: just before its first write)."""

    def __init__(self, client: TransipClient, edit: Callable[[], None]) -> None:
        self.client = client
        self.edit: Callable[[], None] | None = edit

    def _edit(self) -> None:
        if self.edit is not None:
            self.edit()
            self.edit = None

    def list_dns_entries(self, domain: str) -> list[DnsEntry]:
        entries = self.client.list_dns_entries(domain)
        self._edit()
        return entries

    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        self._edit()
        self.client.add_dns_entry(domain, entry)

    def update_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        self._edit()
        self.client.update_dns_entry(domain, entry)

    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        self.client.delete_dns_entry(domain, entry)


def test_patch_406_after_a_concurrent_edit_replans_once(emulator, caplog):
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))

    def by_hand() -> None:  # the owner changes ttl and address in the control panel
        emulator.reset()
        emulator.seed_entry(D, DnsEntry("home", 60, "A", V2))

    api = EditsBehindOurBack(client_for(emulator), by_hand)
    engine = Engine(api, [HOME_A], nameservers=[emulator.dns_server])

    result = engine.run_round({"A": V3})

    assert result.outcomes == {HOME_A.key: Outcome.UPDATED}
    assert mine(emulator, HOME_A) == [DnsEntry("home", 60, "A", V3)]
    assert any("Could not find match" in r.getMessage() for r in caplog.records)
    # DNS showed one entry: PATCH without a GET (406: the entry changed meanwhile), one GET,
    # the PATCH of what is really there
    assert result.api_requests == 3


@pytest.mark.timeout(120)
def test_random_faults_converge_and_never_duplicate(emulator):
    specs = [HOME_A, RecordSpec(D, "@", "A"), RecordSpec("other.test", "vpn", "A")]
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    clock = Clock()
    engine = engine_for(emulator, specs, clock=clock)
    emulator.faults(rate=0.35, kinds=["500", "409", "lost"], seed=20240611)

    addresses = [V1, V2, V3]
    failures = 0
    for i in range(30):
        result = engine.run_round({"A": addresses[i % 3]})
        failures += sum(1 for r in result.records.values() if r.outcome is Outcome.FAILED)
        for spec in specs:
            assert len(mine(emulator, spec)) <= 1, f"round {i}: duplicate {spec.key}"
        clock.advance(4000)

    emulator.faults(rate=0.0)
    for _ in range(2):
        result = engine.run_round({"A": V2})
        clock.advance(4000)
    assert result.outcomes == dict.fromkeys([s.key for s in specs], Outcome.NOOP)
    for spec in specs:
        assert mine(emulator, spec) == [DnsEntry(spec.name, 300, "A", V2)]
    stats = emulator.stats()["requests"]
    assert any(row["status"] in (0, 500, 409) for row in stats), "faults were injected"


@pytest.mark.timeout(60)
def test_propagation_grace_no_second_write_while_dns_lags(emulator_factory):
    emulator = emulator_factory(propagation_delay=30.0)
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))  # seeds are visible at once
    server = authdns.parse_server(emulator.dns_server)
    engine = engine_for(emulator, [HOME_A], propagation_grace=600)

    first = engine.run_round({"A": V2})
    assert first.outcomes == {HOME_A.key: Outcome.UPDATED}
    assert authdns.query(server, HOME_A.fqdn, "A") == [V1]  # the nameserver lags
    baseline = emulator.request_count()

    for _ in range(10):
        result = engine.run_round({"A": V2})
        assert result.outcomes == {HOME_A.key: Outcome.NOOP}
        assert result.records[HOME_A.key].via == "memory"

    assert emulator.request_count() == baseline  # trusted the API: not even a GET
    assert authdns.query(server, HOME_A.fqdn, "A") == [V1]  # still lagging
    assert emulator.request_count("PATCH", DNS) == 1


@pytest.mark.timeout(60)
def test_without_grace_dns_lag_costs_reads_but_never_a_second_write(emulator_factory):
    emulator = emulator_factory(propagation_delay=30.0)
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    engine = engine_for(emulator, [HOME_A], propagation_grace=0)

    engine.run_round({"A": V2})
    for _ in range(5):
        assert engine.run_round({"A": V2}).outcomes == {HOME_A.key: Outcome.NOOP}

    assert writes(emulator) == 1
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V2)]


def test_address_change_within_grace_is_written(emulator_factory):
    emulator = emulator_factory(propagation_delay=30.0)
    emulator.seed_entry(D, DnsEntry("home", 300, "A", V1))
    engine = engine_for(emulator, [HOME_A], propagation_grace=600)

    engine.run_round({"A": V2})
    result = engine.run_round({"A": V3})  # a new address is not covered by the grace

    assert result.outcomes == {HOME_A.key: Outcome.UPDATED}
    assert mine(emulator, HOME_A) == [DnsEntry("home", 300, "A", V3)]
