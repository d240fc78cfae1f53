"""ddnsd as external-dns's webhook provider, over real sockets against the emulator.

``ExternalDns`` sends what external-dns's webhook client sends (headers and bodies as
``provider/webhook/webhook.go`` encodes them) and plans like its ``plan`` package: an
RRset is created when missing, updated when its targets or a configured TTL differ,
deleted when no longer desired. A sync reads ``/records``, adjusts the desired endpoints
through ``/adjustendpoints`` and posts the changes, if any, to ``/records``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from daemon_support import DaemonProcess, free_port, wait_for, write_config

from ddnsd import wiring
from ddnsd.acme import inflight
from ddnsd.authdns import parse_server, query
from ddnsd.config.models import Settings
from ddnsd.externaldns.app import MAX_BODY
from ddnsd.model import DnsEntry
from ddnsd.web.server import HttpServer, serve

if TYPE_CHECKING:
    from conftest import EmulatorHandle

MT = "application/external.dns.webhook+json;version=1"
OWNER = (
    "heritage=external-dns,external-dns/owner=default,"
    "external-dns/resource=service/default/test-host"
)
WRITES = ("POST", "PATCH", "DELETE", "PUT")


def settings_for(
    emulator: EmulatorHandle, state: Path, transip_timeout: float = 10.0, **extra: Any
) -> Settings:
    external = {"listen": "127.0.0.1:0", **extra.pop("external_dns", {})}
    return Settings(
        transip={
            "login": emulator.login,
            "private_key_file": emulator.private_key_path,
            "api_url": emulator.api_url,
            "timeout": transip_timeout,
        },
        state={"dir": state},
        external_dns=external,
        **extra,
    )


def start(settings: Settings) -> HttpServer:
    client = wiring.make_client(settings)
    app = wiring.make_external_dns_app(settings, client)
    return serve(app, "127.0.0.1:0", max_request_body=MAX_BODY)


@dataclass
class ExternalDns:
    """external-dns's side of the webhook protocol."""

    url: str

    def negotiate(self) -> requests.Response:
        return requests.get(self.url + "/", headers={"Accept": MT}, timeout=15)

    def records(self) -> list[dict[str, Any]]:
        r = requests.get(self.url + "/records", headers={"Accept": MT}, timeout=15)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == MT
        return list(r.json())

    def adjust(self, endpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r = requests.post(
            self.url + "/adjustendpoints",
            data=json.dumps(endpoints) + "\n",  # Go's json.Encoder ends with a newline
            headers={"Accept": MT, "Content-Type": MT},
            timeout=15,
        )
        assert r.status_code == 200, r.text
        return list(r.json())

    def apply(self, changes: dict[str, Any]) -> requests.Response:
        return requests.post(
            self.url + "/records",
            data=json.dumps(changes) + "\n",
            headers={"Content-Type": MT},
            timeout=15,
        )

    def plan(self, desired: list[dict[str, Any]], go_names: bool = False) -> dict[str, Any]:
        """The changes external-dns's plan computes from /records and adjusted ``desired``."""
        current = {(e["dnsName"], e["recordType"]): e for e in self.records()}
        wanted = {(e["dnsName"], e["recordType"]): e for e in self.adjust(desired)}
        create = [e for k, e in wanted.items() if k not in current]
        delete = [e for k, e in current.items() if k in owned(current) and k not in wanted]
        old, new = [], []
        for k, e in wanted.items():
            have = current.get(k)
            if have is None:
                continue
            ttl_differs = e.get("recordTTL", 0) and e.get("recordTTL") != have.get("recordTTL")
            if sorted(e["targets"]) != sorted(have["targets"]) or ttl_differs:
                old.append(have)
                new.append(e)
        keys = ("Create", "UpdateOld", "UpdateNew", "Delete") if go_names else CAMEL
        return {
            key: items for key, items in zip(keys, (create, old, new, delete), strict=True) if items
        }

    def sync(self, desired: list[dict[str, Any]], go_names: bool = False) -> requests.Response:
        changes = self.plan(desired, go_names)
        if not changes:
            raise AssertionError("nothing to sync: the plan is empty")
        return self.apply(changes)


CAMEL = ("create", "updateOld", "updateNew", "delete")
A_ENDPOINT = {"dnsName": "a.example.test", "targets": ["192.0.2.1"], "recordType": "A"}


def owned(current: dict[tuple[str, str], dict[str, Any]]) -> set[tuple[str, str]]:
    """The TXT registry: records whose ``a-``/``txt-`` TXT names this owner (quotes trimmed,
    as external-dns's registry does), and those TXT records themselves."""
    out: set[tuple[str, str]] = set()
    for (name, rtype), e in current.items():
        if rtype != "TXT" or not name.startswith("a-"):
            continue
        if any("external-dns/owner=default" in t.strip('"') for t in e["targets"]):
            out |= {(name, rtype), (name.removeprefix("a-"), "A")}
    return out


def a_rrset(targets: list[str], ttl: int = 300) -> list[dict[str, Any]]:
    """test-host A with its TXT registry record, as external-dns sends them."""
    return [
        {
            "dnsName": "test-host.example.test",
            "targets": targets,
            "recordType": "A",
            "recordTTL": ttl,
            "labels": {"resource": "service/default/test-host"},
        },
        {
            "dnsName": "a-test-host.example.test",
            "targets": [f'"{OWNER}"'],
            "recordType": "TXT",
            "labels": {},
        },
    ]


def zone(emulator: EmulatorHandle) -> list[DnsEntry]:
    return emulator.entries("example.test")


def writes(emulator: EmulatorHandle) -> int:
    return sum(emulator.request_count(m) for m in WRITES)


@pytest.fixture
def webhook(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[ExternalDns]:
    srv = start(settings_for(emulator, tmp_path / "state"))
    yield ExternalDns(srv.url)
    srv.shutdown()


def test_negotiation_answers_the_media_type_and_the_account_domains(
    webhook: ExternalDns,
) -> None:
    r = webhook.negotiate()
    assert r.status_code == 200
    assert r.headers["Content-Type"] == MT
    assert r.headers["Vary"] == "Content-Type"
    assert r.json() == {"include": ["example.test", "other.test"]}


def test_configured_domains_are_the_filter_and_the_only_zones_read(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    srv = start(settings_for(emulator, tmp_path, external_dns={"domains": ["Other.Test."]}))
    try:
        ext = ExternalDns(srv.url)
        assert ext.negotiate().json() == {"include": ["other.test"]}
        assert {e["dnsName"] for e in ext.records()} == {
            "other.test",
            "mail.other.test",
            "www.other.test",
        }
        assert emulator.request_count("GET", "/v6/domains") == 0
    finally:
        srv.shutdown()


def test_records_are_one_endpoint_per_rrset_with_absolute_targets(webhook: ExternalDns) -> None:
    assert sorted(webhook.records(), key=lambda e: (e["dnsName"], e["recordType"])) == [
        {
            "dnsName": "example.test",
            "targets": ["10 mail.example.test"],
            "recordType": "MX",
            "recordTTL": 3600,
        },
        {
            "dnsName": "example.test",
            "targets": ["v=spf1 mx -all"],
            "recordType": "TXT",
            "recordTTL": 3600,
        },
        {
            "dnsName": "mail.example.test",
            "targets": ["198.51.100.25"],
            "recordType": "A",
            "recordTTL": 3600,
        },
        {
            "dnsName": "mail.other.test",
            "targets": ["198.51.100.25"],
            "recordType": "A",
            "recordTTL": 3600,
        },
        {
            "dnsName": "other.test",
            "targets": ["10 mail.other.test"],
            "recordType": "MX",
            "recordTTL": 3600,
        },
        {
            "dnsName": "other.test",
            "targets": ["v=spf1 mx -all"],
            "recordType": "TXT",
            "recordTTL": 3600,
        },
        {
            "dnsName": "www.example.test",
            "targets": ["example.test"],
            "recordType": "CNAME",
            "recordTTL": 3600,
        },
        {
            "dnsName": "www.other.test",
            "targets": ["other.test"],
            "recordType": "CNAME",
            "recordTTL": 3600,
        },
    ]


@pytest.mark.parametrize("go_names", [False, True], ids=["camelCase", "GoNames"])
def test_create_update_delete_cycle_converges_and_leaves_the_rest(
    emulator: EmulatorHandle, webhook: ExternalDns, go_names: bool
) -> None:
    before = zone(emulator)

    r = webhook.sync(a_rrset(["192.0.2.1", "192.0.2.2"]), go_names)
    assert (r.status_code, r.content) == (204, b"")
    assert sorted(zone(emulator), key=str) == sorted(
        [
            *before,
            DnsEntry("test-host", 300, "A", "192.0.2.1"),
            DnsEntry("test-host", 300, "A", "192.0.2.2"),
            DnsEntry("a-test-host", 300, "TXT", OWNER),  # bare: no literal quotes in the zone
        ],
        key=str,
    )
    assert webhook.plan(a_rrset(["192.0.2.1", "192.0.2.2"])) == {}
    served = query(parse_server(emulator.dns_server), "a-test-host.example.test", "TXT")
    assert served == [OWNER]

    r = webhook.sync(a_rrset(["192.0.2.2", "192.0.2.3"], ttl=600), go_names)
    assert r.status_code == 204, r.text
    assert sorted((e for e in zone(emulator) if e.name == "test-host"), key=str) == [
        DnsEntry("test-host", 600, "A", "192.0.2.2"),
        DnsEntry("test-host", 600, "A", "192.0.2.3"),
    ]
    assert webhook.plan(a_rrset(["192.0.2.2", "192.0.2.3"], ttl=600)) == {}

    r = webhook.sync([], go_names)
    assert r.status_code == 204, r.text
    assert sorted(zone(emulator), key=str) == sorted(before, key=str)
    assert webhook.plan([]) == {}
    assert emulator.request_count("PUT") == 0


def test_a_single_target_change_is_one_patch(
    emulator: EmulatorHandle, webhook: ExternalDns
) -> None:
    webhook.sync(a_rrset(["192.0.2.1"]))
    writes_before = writes(emulator)
    assert webhook.sync(a_rrset(["192.0.2.9"])).status_code == 204
    assert writes(emulator) - writes_before == 1
    assert emulator.request_count("PATCH") == 1
    assert [e for e in zone(emulator) if e.name == "test-host"] == [
        DnsEntry("test-host", 300, "A", "192.0.2.9")
    ]


def test_name_targets_are_written_absolute_and_served_as_sent(
    emulator: EmulatorHandle, webhook: ExternalDns
) -> None:
    desired = [
        {"dnsName": "app.example.test", "targets": ["lb.example.org."], "recordType": "CNAME"},
        {
            "dnsName": "example.test",
            "targets": ["10 mx.example.org"],
            "recordType": "MX",
            "recordTTL": 30,
        },
    ]
    assert webhook.adjust(desired) == [
        {
            "dnsName": "app.example.test",
            "targets": ["lb.example.org"],
            "recordType": "CNAME",
            "recordTTL": 300,
        },
        {
            "dnsName": "example.test",
            "targets": ["10 mx.example.org"],
            "recordType": "MX",
            "recordTTL": 60,
        },
    ]
    changes = {"create": [desired[0]]}
    assert webhook.apply(changes).status_code == 204
    assert DnsEntry("app", 300, "CNAME", "lb.example.org.") in zone(emulator)
    ns = parse_server(emulator.dns_server)
    assert query(ns, "app.example.test", "CNAME") == ["lb.example.org."]
    assert webhook.plan(desired[:1]) == {}


def test_types_transip_lacks_are_left_out_of_the_adjusted_endpoints(webhook: ExternalDns) -> None:
    desired = [
        {"dnsName": "x.example.test", "targets": ["host.example.test"], "recordType": "PTR"},
        {
            "dnsName": "y.example.test",
            "targets": ["192.0.2.1"],
            "recordType": "A",
            "setIdentifier": "eu",
        },
        {
            "dnsName": "z.example.test",
            "targets": ["192.0.2.1"],
            "recordType": "A",
            "recordTTL": 120,
        },
    ]
    assert webhook.adjust(desired) == [
        {"dnsName": "z.example.test", "targets": ["192.0.2.1"], "recordType": "A", "recordTTL": 120}
    ]


def test_ddnsd_own_records_and_challenges_are_refused_the_rest_applied(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.seed_entry("example.test", DnsEntry("home", 300, "A", "203.0.113.7"))
    settings = settings_for(
        emulator,
        tmp_path,
        records=[{"domain": "example.test", "name": "home", "type": "A"}],
    )
    srv = start(settings)
    try:
        ext = ExternalDns(srv.url)
        changes = {
            "create": [
                {"dnsName": "_acme-challenge.example.test", "targets": ["x"], "recordType": "TXT"},
                *a_rrset(["192.0.2.1"]),
            ],
            "updateOld": [
                {
                    "dnsName": "home.example.test",
                    "targets": ["203.0.113.7"],
                    "recordType": "A",
                    "recordTTL": 300,
                }
            ],
            "updateNew": [
                {
                    "dnsName": "home.example.test",
                    "targets": ["192.0.2.66"],
                    "recordType": "A",
                    "recordTTL": 300,
                }
            ],
        }
        r = ext.apply(changes)
        assert r.status_code == 500
        assert "refusing home.example.test A: a [[records]] entry" in r.text
        assert "refusing _acme-challenge.example.test TXT" in r.text
        entries = zone(emulator)
        assert DnsEntry("home", 300, "A", "203.0.113.7") in entries
        assert DnsEntry("test-host", 300, "A", "192.0.2.1") in entries
        assert not [e for e in entries if e.name == "_acme-challenge"]
    finally:
        srv.shutdown()


@pytest.mark.slow(10)
@pytest.mark.parametrize(
    ("fault", "times", "in_doubt"),
    [
        ("409", 5, False),  # a refusal (retried by the client: 5 use it up); never applied
        ("500", 1, True),  # may have been applied: not posted again at once
        ("lost", 1, False),  # applied, the answer lost: the re-read zone shows it
        ("slow", 1, True),  # applied after the client gave up: it lands later
    ],
)
def test_trouble_mid_apply_is_500_then_the_retried_plan_converges_without_duplicates(
    emulator: EmulatorHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    times: int,
    in_doubt: bool,
) -> None:
    # A lost POST may land within the client's timeout + BEING_SAVED (60 s at TransIP);
    # shortened here to 1 s + 1 s. The emulator's slow fault answers after 1.5 s.
    monkeypatch.setattr(inflight, "BEING_SAVED", 1.0)
    srv = start(settings_for(emulator, tmp_path, transip_timeout=1.0))
    webhook = ExternalDns(srv.url)
    try:
        desired = a_rrset(["192.0.2.1", "192.0.2.2"])
        webhook.records()  # the view is warm: no GET before the writes
        post = {"kind": fault, "method": "POST", "path": "/v6/domains/{domain}/dns"}
        emulator.script_faults([post] * times)
        r = webhook.apply(webhook.plan(desired))
        assert r.status_code == 500
        assert "applying the changes failed" in r.text

        r = webhook.sync(desired)  # external-dns's next sync, at once: a fresh plan
        assert r.status_code == (500 if in_doubt else 204), r.text
        if in_doubt:
            assert "got no answer; it may still be applied, so it is not sent again" in r.text

        def converged() -> bool:
            changes = webhook.plan(desired)
            if not changes:
                return True
            r = webhook.apply(changes)  # applied, or refused only while a POST is in doubt
            assert r.status_code == 204 or "got no answer" in r.text, r.text
            return r.status_code == 204

        wait_for(converged, what="the retried plan to converge")
        assert webhook.plan(desired) == {}
        ours = [e for e in zone(emulator) if e.name in ("test-host", "a-test-host")]
        assert sorted(ours, key=str) == sorted(
            [
                DnsEntry("test-host", 300, "A", "192.0.2.1"),
                DnsEntry("test-host", 300, "A", "192.0.2.2"),
                DnsEntry("a-test-host", 300, "TXT", OWNER),
            ],
            key=str,
        )
    finally:
        srv.shutdown()


@pytest.mark.slow(8)
def test_rate_limit_is_500_and_silence_until_the_reset(
    emulator: EmulatorHandle, webhook: ExternalDns
) -> None:
    desired = a_rrset(["192.0.2.1"])
    changes = webhook.plan(desired)
    emulator.script_faults([{"kind": "ratelimit", "method": "POST", "reset": 5}])
    r = webhook.apply(changes)
    assert r.status_code == 500
    assert "rate limit" in r.text.lower()
    sent = emulator.request_count()
    for _ in range(3):  # external-dns keeps syncing: reads from the view, writes wait
        assert webhook.plan(desired) == changes
        assert webhook.apply(changes).status_code == 500
    assert emulator.request_count() == sent
    assert not [e for e in zone(emulator) if e.name == "test-host"]
    posts = emulator.request_count("POST", "/v6/domains/{domain}/dns")

    def synced() -> bool:  # after the reset the next sync writes
        return webhook.sync(desired).status_code == 204

    wait_for(synced, what="the sync after the reset")
    assert DnsEntry("test-host", 300, "A", "192.0.2.1") in zone(emulator)
    # the A entry and its TXT registry entry, each posted once
    assert emulator.request_count("POST", "/v6/domains/{domain}/dns") == posts + 2


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"create": {"dnsName": "a.example.test"}}',
        json.dumps({"create": [{**A_ENDPOINT, "recordTTL": "300"}]}).encode(),
        json.dumps({"create": [{**A_ENDPOINT, "targets": "192.0.2.1"}]}).encode(),
        json.dumps({"create": [], "Create": [A_ENDPOINT]}).encode(),
        json.dumps({"create": [{**A_ENDPOINT, "recordTTL": 1.5}]}).encode(),
    ],
    ids=[
        "not-json",
        "list",
        "not-a-list",
        "string-ttl",
        "string-targets",
        "both-spellings",
        "float-ttl",
    ],
)
def test_malformed_changes_are_400_and_write_nothing(
    emulator: EmulatorHandle, webhook: ExternalDns, body: bytes
) -> None:
    before = zone(emulator)
    r = requests.post(webhook.url + "/records", data=body, headers={"Content-Type": MT}, timeout=15)
    assert r.status_code == 400
    assert zone(emulator) == before
    assert writes(emulator) == 0


def test_a_sync_in_sync_costs_nothing_and_k_changes_cost_at_most_k_plus_one(
    emulator: EmulatorHandle, webhook: ExternalDns
) -> None:
    desired = a_rrset(["192.0.2.1", "192.0.2.2"])
    webhook.sync(desired)
    after_first = emulator.request_count()
    for _ in range(10):  # ten syncs in sync, well within refresh: no request at all
        assert webhook.plan(desired) == {}
    assert emulator.request_count() == after_first

    bigger = [
        *desired,
        *[
            {"dnsName": f"svc{i}.example.test", "targets": [f"192.0.2.{10 + i}"], "recordType": "A"}
            for i in range(5)
        ],
    ]
    changes = webhook.plan(bigger)
    k = sum(len(e["targets"]) for e in changes["create"])
    assert k == 5
    before = emulator.request_count()
    assert webhook.apply(changes).status_code == 204
    assert emulator.request_count() - before <= k + 1
    assert webhook.plan(bigger) == {}


def test_ddnsd_run_serves_the_webhook_on_its_own_listen(
    emulator: EmulatorHandle, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    port, http_port = free_port(), free_port()
    cfg = write_config(
        tmp_path / "c.toml",
        emulator,
        records="",
        http_port=http_port,
        extra=f'[external_dns]\nlisten = "127.0.0.1:{port}"\ndomains = ["example.test"]\n',
    )
    d = DaemonProcess(cfg)
    daemons.append(d)
    ext = ExternalDns(f"http://127.0.0.1:{port}")

    def answers() -> bool:
        assert d.proc.poll() is None, d.log
        try:
            return ext.negotiate().status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(answers, what="the webhook to listen")
    assert ext.negotiate().json() == {"include": ["example.test"]}
    assert webhook_sync_ok(ext)
    assert DnsEntry("test-host", 300, "A", "192.0.2.1") in zone(emulator)
    assert requests.get(f"http://127.0.0.1:{http_port}/readyz", timeout=5).status_code == 200
    assert f"external_dns: http://127.0.0.1:{port}" in d.log
    assert "nothing to do" not in d.log
    assert d.stop() == 0


def webhook_sync_ok(ext: ExternalDns) -> bool:
    return (
        ext.sync(a_rrset(["192.0.2.1"])).status_code == 204
        and ext.plan(a_rrset(["192.0.2.1"])) == {}
    )


def test_an_rrset_below_the_minimum_ttl_is_replaced_not_doubled(
    emulator: EmulatorHandle, webhook: ExternalDns
) -> None:
    """An owned record someone gave a 30 s TTL by hand: external-dns updates it, and the
    old entry goes although its TTL is below min_ttl."""
    emulator.seed_entry("example.test", DnsEntry("test-host", 30, "A", "192.0.2.1"))
    emulator.seed_entry("example.test", DnsEntry("a-test-host", 300, "TXT", OWNER))
    desired = a_rrset(["192.0.2.1"])
    assert webhook.sync(desired).status_code == 204
    assert [e for e in zone(emulator) if e.name == "test-host"] == [
        DnsEntry("test-host", 300, "A", "192.0.2.1")
    ]
    assert webhook.plan(desired) == {}


def test_syncs_in_sync_log_nothing_at_info_and_each_write_one_line(
    webhook: ExternalDns, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ddnsd")
    desired = a_rrset(["192.0.2.1"])
    webhook.records()  # the token's line comes first
    caplog.clear()
    webhook.sync(desired)
    assert ddnsd_lines(caplog) == [
        "external-dns: POST test-host 300 A '192.0.2.1' in example.test",
        f"external-dns: POST a-test-host 300 TXT '{OWNER}' in example.test",
    ]
    caplog.clear()
    for _ in range(3):
        assert webhook.plan(desired) == {}
    assert ddnsd_lines(caplog) == []


def ddnsd_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What ddnsd logged (not the emulator)."""
    return [r.getMessage() for r in caplog.records if not r.name.startswith("ddnsd.emulator")]
