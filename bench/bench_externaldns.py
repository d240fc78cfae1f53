"""external-dns's sync loop against ddnsd's webhook provider: 10 domains on one account.

Run: ``make bench`` (or ``.venv/bin/python -m bench externaldns``). external-dns syncs
every minute: ``GET /records``, ``POST /adjustendpoints`` with what the cluster wants, and
``POST /records`` when its plan has changes. The hour is replayed on a simulated clock
(60 syncs, the view's clock moved a minute each), over real sockets to the provider and
from it to the emulator; requests are counted at the emulator.

Baseline, same run: the provider with no cache (``refresh`` 0), i.e. a ``GET`` per domain
per ``/records`` (and per apply), as the removed in-tree TransIP provider did.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import requests

from bench.bench_budget import _SimulatedClock, machine
from ddnsd.acme.domains import AccountDomains
from ddnsd.emulator.keys import KeyPair, write_keypair
from ddnsd.emulator.server import Emulator, EmulatorConfig
from ddnsd.externaldns.app import MAX_BODY, make_app
from ddnsd.externaldns.mapping import MEDIA_TYPE, Policy
from ddnsd.externaldns.provider import Protected, Provider
from ddnsd.externaldns.view import ZoneView
from ddnsd.model import DnsEntry
from ddnsd.statedir import StateDir
from ddnsd.transip.budget import DDNS
from ddnsd.transip.client import make_client
from ddnsd.web.server import serve

DOMAINS = [f"k{i:02d}.test" for i in range(10)]
SERVICES = 5  # owned A records per domain, each with its TXT registry record
RUNS = 5
OWNER = '"heritage=external-dns,external-dns/owner=bench,external-dns/resource=service/x"'


def _desired(extra: int = 0) -> list[dict[str, Any]]:
    """What the cluster wants: SERVICES A records per domain (+ ``extra`` more, spread
    over the domains), each with its TXT registry record."""
    out: list[dict[str, Any]] = []
    for i in range(SERVICES * len(DOMAINS) + extra):
        domain = DOMAINS[i % len(DOMAINS)]
        name = f"svc{i}.{domain}"
        out.append({"dnsName": name, "targets": [f"198.51.100.{i % 250}"], "recordType": "A"})
        out.append({"dnsName": f"a-{name}", "targets": [OWNER], "recordType": "TXT"})
    return out


def _seed(emu: Emulator) -> None:
    for i in range(SERVICES * len(DOMAINS)):
        domain = DOMAINS[i % len(DOMAINS)]
        emu.store.seed(domain, DnsEntry(f"svc{i}", 300, "A", f"198.51.100.{i % 250}"))
        emu.store.seed(domain, DnsEntry(f"a-svc{i}", 300, "TXT", OWNER.strip('"')))


def _requests(emu: Emulator) -> tuple[int, int]:
    """(/v6 requests, of which /auth) the emulator answered so far."""
    with urllib.request.urlopen(f"{emu.base_url}/_emulator/log", timeout=30) as r:
        sent = [x for x in json.loads(r.read())["requests"] if x["path"].startswith("/v6")]
    return len(sent), sum(1 for x in sent if x["path"] == "/v6/auth")


def _sync(url: str, desired: list[dict[str, Any]]) -> tuple[int, float]:
    """One external-dns sync: (entries its plan creates, seconds its POST /records took)."""
    headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
    current = requests.get(url + "/records", headers=headers, timeout=60).json()
    adjusted = requests.post(
        url + "/adjustendpoints", data=json.dumps(desired), headers=headers, timeout=60
    ).json()
    have = {(e["dnsName"], e["recordType"]) for e in current}
    create = [e for e in adjusted if (e["dnsName"], e["recordType"]) not in have]
    if not create:
        return 0, 0.0
    started = time.monotonic()
    r = requests.post(
        url + "/records", data=json.dumps({"create": create}), headers=headers, timeout=60
    )
    took = time.monotonic() - started
    assert r.status_code == 204, r.text
    return sum(len(e["targets"]) for e in create), took


def run(keys: KeyPair, refresh: float) -> tuple[int, int, int, int, float]:
    """The hour in sync: (requests, of which /auth); then one sync changing 50 entries a
    minute later: (entries changed, requests of its POST /records, seconds it took)."""
    emu = Emulator(EmulatorConfig(users={"bench": keys.public_pem}, domains=DOMAINS)).start()
    _seed(emu)
    state = Path(tempfile.mkdtemp(prefix="ddnsd-bench-xdns-"))
    client = make_client(emu.api_url, "bench", keys.private_key_path, cache_dir=state, kind=DDNS)
    clock = _SimulatedClock(0.0)
    zones = AccountDomains(client, StateDir(state), zones=DOMAINS)
    provider = Provider(
        client, zones.allowed_zones, ZoneView(client, refresh, clock), Policy(), Protected()
    )
    server = serve(make_app(provider), "127.0.0.1:0", max_request_body=MAX_BODY)
    try:
        desired = _desired()
        for _ in range(60):  # an hour of syncs, a minute apart, nothing to change
            assert _sync(server.url, desired) == (0, 0.0)
            clock.now += 60
        hour, auths = _requests(emu)
        clock.now += 60
        desired = _desired(extra=25)  # 25 more A records + their 25 TXT registry records
        headers = {"Accept": MEDIA_TYPE}
        requests.get(server.url + "/records", headers=headers, timeout=60)  # the view is fresh
        before, _ = _requests(emu)
        changed, took = _sync(server.url, desired)
        after, _ = _requests(emu)
        return hour, auths, changed, after - before, took
    finally:
        server.shutdown()
        emu.stop()
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    logging.getLogger("ddnsd").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="ddnsd-bench-keys-"))
    keys = write_keypair(work, "bench")
    print(f"Machine: {machine()}; emulator and provider on loopback, in this process.\n")
    print(
        f"## external-dns syncing every minute for an hour: {len(DOMAINS)} domains, "
        f"{SERVICES * len(DOMAINS)} owned records\n"
    )
    print(
        "| provider | requests in the hour (of which /auth) | one sync changing 50 entries "
        "(view fresh): requests / time of its POST /records |\n|---|---:|---:|"
    )
    setups = (("ddnsd (refresh 5 min)", 300.0), ("baseline: no cache", 0.0))
    runs: dict[str, list[tuple[int, int, int, int, float]]] = {label: [] for label, _ in setups}
    for _ in range(RUNS):  # alternating: the first run in a process is the slowest
        for label, refresh in setups:
            runs[label].append(run(keys, refresh))
    for label, _ in setups:
        hour, auths, changed, sent, _took = runs[label][0]
        assert changed == 50 and all(r[:4] == (hour, auths, changed, sent) for r in runs[label])
        took = statistics.median(r[4] for r in runs[label])
        print(f"| {label} | {hour} ({auths}) | {sent} / {took:.2f} s |")
    print(f"\nTimes: the median of {RUNS} runs each, alternating.")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
