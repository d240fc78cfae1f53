"""Scale and rate-limit benchmarks: 1,000 domains x 2 records on one TransIP account.

Run: ``make bench`` (or ``.venv/bin/python -m bench budget``). Prints markdown tables;
every figure has a baseline measured in the same run against the same emulator set-up.

The baseline is "today's behaviour" before the request budget: the same engine with the
DNS drift check switched off (every nameserver query fails at once, so every domain is
read from the API every round: one GET per domain per round, as ``once`` always did), no
request budget and no silence after a 429: a 429 fails that record until the next round
and the round goes on (today's client also waited up to 60 s for a reset and retried
once; with the scaled window that would only add requests).

Rate-limit rows use the emulator's ``--rate-limit-window`` scaled down 100 times (9 s for
TransIP's 15 minutes, 1,000 requests per window); times are as measured with that window.
The hour of ``once`` runs is on a simulated clock (engine, budget and the emulator's
window), starting just before the first domain's read-back point: the worst case.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ddnsd import authdns
from ddnsd.authdns import Nameserver
from ddnsd.emulator.keys import KeyPair, write_keypair
from ddnsd.emulator.ratelimit import RateLimiter
from ddnsd.emulator.server import Emulator, EmulatorConfig
from ddnsd.errors import ApiDeferred, DdnsdError, TransipRateLimited
from ddnsd.model import DnsEntry, Outcome, RecordSpec
from ddnsd.reconcile.applier import DnsApi
from ddnsd.reconcile.engine import Engine
from ddnsd.reconcile.memory import Memory
from ddnsd.reconcile.result import RoundResult
from ddnsd.statedir import StateDir
from ddnsd.transip.budget import DDNS, Budget
from ddnsd.transip.client import TransipClient, make_client

DOMAINS = [f"d{i:04d}.test" for i in range(1000)]
NAMES = ["@", "home"]
V1, V2 = "203.0.113.1", "203.0.113.2"
SCALE = 100  # the emulator's window is TransIP's 900 s / SCALE
WINDOW = 900.0 / SCALE


def _log(emu: Emulator) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{emu.base_url}/_emulator/log", timeout=30) as r:
        return list(json.loads(r.read())["requests"])


def _emulator(keys: KeyPair, domains: list[str], window: float = 900.0) -> Emulator:
    emu = Emulator(
        EmulatorConfig(
            users={"bench": keys.public_pem},
            domains=domains,
            rate_limit=1000,
            rate_limit_window=window,
        )
    ).start()
    for d in domains:
        for n in NAMES:
            emu.store.seed(d, DnsEntry(n, 300, "A", V1))
    return emu


def _specs(domains: list[str]) -> list[RecordSpec]:
    return [RecordSpec(d, n, "A") for d in domains for n in NAMES]


def _no_dns(ns: Nameserver, fqdn: str, rdtype: str) -> list[str]:
    raise DdnsdError("the drift check is off (baseline)")


class _Today:
    """The client as before the budget: a 429 is a failure like any other (the round
    goes on with the next domain), nothing keeps the other requests back."""

    def __init__(self, client: TransipClient) -> None:
        self.client = client

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except ApiDeferred as exc:
            raise TransipRateLimited(429, exc.message, text=str(exc)) from None

    def list_dns_entries(self, domain: str) -> list[DnsEntry]:
        return list(self._call(self.client.list_dns_entries, domain))

    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        self._call(self.client.add_dns_entry, domain, entry)

    def update_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        self._call(self.client.update_dns_entry, domain, entry)

    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        self._call(self.client.delete_dns_entry, domain, entry)


def _engine(
    emu: Emulator,
    keys: KeyPair,
    specs: list[RecordSpec],
    state: Path | None,
    *,
    window: float = 900.0,
    clock: Callable[[], float] = time.time,
    token_cache: Path | None = None,
) -> Engine:
    """ddnsd (``state``: drift check, memory and budget in that state dir) or the
    baseline (``state`` None); ``token_cache`` for both (today's ``once`` had it)."""
    budget = (
        Budget(StateDir(state), login="bench", api_url=emu.api_url, window=window, clock=clock)
        if state
        else None
    )
    client: TransipClient = make_client(
        emu.api_url,
        "bench",
        keys.private_key_path,
        cache_dir=state or token_cache,
        budget=budget,
        kind=DDNS,
    )
    host, port = emu.dns_address
    api: DnsApi = client if state is not None else _Today(client)
    return Engine(
        api,
        specs,
        nameservers=[f"{host}:{port}"],
        clock=clock,
        dns_query=authdns.query if state is not None else _no_dns,
        memory=Memory(
            StateDir(state) if state is not None else None,
            [s.key for s in specs],
            {s.domain for s in specs},
        ),
        budget=client.budget_until if state is not None else None,
    )


# --------------------------------------------------------------------------- 1: in sync


def _timed_round(emu: Emulator, engine: Engine) -> tuple[float, int]:
    before = len(_log(emu))
    t0 = time.monotonic()
    result = engine.run_round({"A": V1})
    took = time.monotonic() - t0
    assert all(o is Outcome.NOOP for o in result.outcomes.values()), "not in sync"
    return took, len(_log(emu)) - before


def in_sync_round(keys: KeyPair) -> list[tuple[str, float, int]]:
    """One round with every record already right: (label, wall seconds, API requests)."""
    emu = _emulator(keys, DOMAINS)
    baseline = _timed_round(emu, _engine(emu, keys, _specs(DOMAINS), None))
    emu.stop()
    emu = _emulator(keys, DOMAINS)
    state = Path(tempfile.mkdtemp(prefix="ddnsd-bench-"))
    engine = _engine(emu, keys, _specs(DOMAINS), state)
    first = _timed_round(emu, engine)
    second = _timed_round(emu, engine)
    emu.stop()
    shutil.rmtree(state, ignore_errors=True)
    return [
        ("baseline: GET per domain (drift check off)", *baseline),
        ("ddnsd: first round, fresh state dir", *first),
        ("ddnsd: next round (read-backs due at their points)", *second),
    ]


# --------------------------------------------------------------------------- 2: change


def _converge(
    emu: Emulator, engine: Engine, *, every: float, limit: float
) -> tuple[int, int, float, int]:
    """Rounds with the new address until every record holds it: (requests, 429s, seconds,
    rounds). ddnsd waits until ``deferred_until`` (what the daemon schedules), the baseline
    runs a round every ``every`` seconds (its interval)."""
    before = len(_log(emu))
    t0 = time.monotonic()
    rounds = 0
    while time.monotonic() - t0 < limit:
        result: RoundResult = engine.run_round({"A": V2})
        rounds += 1
        if result.ok:
            break
        until = result.deferred_until
        time.sleep(max(until - time.time(), 0.0) if until is not None else every)
    took = time.monotonic() - t0
    sent = _log(emu)[before:]
    return len(sent), sum(1 for r in sent if r["status"] == 429), took, rounds


def address_change(keys: KeyPair) -> list[tuple[str, int, int, float, int]]:
    rows = []
    for label, ddnsd in (
        ("baseline: GET per domain, no budget, round every 3 s (5 min scaled)", False),
        ("ddnsd: PATCH from DNS, paced by the budget", True),
    ):
        emu = _emulator(keys, DOMAINS, window=WINDOW)
        state = Path(tempfile.mkdtemp(prefix="ddnsd-bench-")) if ddnsd else None
        engine = _engine(emu, keys, _specs(DOMAINS), state, window=WINDOW)
        if ddnsd:
            engine.run_round({"A": V1})  # in sync before the change (no request)
        requests, refused, took, rounds = _converge(emu, engine, every=3.0, limit=240)
        zone = emu.store.snapshot()
        held = sum(1 for d in DOMAINS for e in zone[d] if e.type == "A" and e.content == V2)
        took = took if held == 2000 else float("nan")
        rows.append((label, requests, refused, took, rounds))
        emu.stop()
        if state is not None:
            shutil.rmtree(state, ignore_errors=True)
    return rows


# --------------------------------------------------------------------------- 3: cron


def _just_before_a_point(domain: str) -> float:
    """A time 2.5 minutes before ``domain``'s next read-back point (verify 1 h)."""
    from ddnsd.reconcile.schedule import slot_start, verify_offset

    now = time.time()
    return slot_start(now, verify_offset(domain, 3600), 3600) + 3600 - 150


class _SimulatedClock:
    """The hour of ``once`` runs, moved by hand (the engine, the budget, the emulator's
    window); tokens stay on the real clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def once_for_an_hour(keys: KeyPair, domains: list[str]) -> list[tuple[str, int, int, int]]:
    """Twelve ``once`` runs 5 minutes apart on a simulated clock (fresh client and engine
    each, one state dir with the token cache): (label, requests, of which /auth, 429s)."""
    rows = []
    for label, ddnsd in (("baseline: GET per domain per run", False), ("ddnsd", True)):
        emu = _emulator(keys, domains)
        state = Path(tempfile.mkdtemp(prefix="ddnsd-bench-"))
        clock = _SimulatedClock(_just_before_a_point(domains[0]))
        emu.limiter = RateLimiter(1000, 900, clock)  # TransIP's window, on the same clock
        for i in range(12):
            clock.now += 300 if i else 0
            engine = _engine(
                emu,
                keys,
                _specs(domains),
                state if ddnsd else None,
                clock=clock,
                token_cache=state,
            )
            engine.run_round({"A": V1})
        sent = _log(emu)
        auths = sum(1 for r in sent if r["path"] == "/v6/auth")
        rows.append((label, len(sent), auths, sum(1 for r in sent if r["status"] == 429)))
        emu.stop()
        shutil.rmtree(state, ignore_errors=True)
    return rows


# --------------------------------------------------------------------------- report


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def main() -> None:
    logging.getLogger("ddnsd").setLevel(logging.ERROR)  # the tables, not the baseline's noise
    work = Path(tempfile.mkdtemp(prefix="ddnsd-bench-keys-"))
    keys = write_keypair(work, "bench")
    print(f"Machine: {machine()}; emulator on loopback, in this process.\n")
    print("## 1,000 domains x 2 records, nothing changed: one round\n")
    print("| engine | wall time | API requests |\n|---|---:|---:|")
    for label, took, requests in in_sync_round(keys):
        print(f"| {label} | {took:.2f} s | {requests} |")
    print(
        f"\n## 1,000 domains x 2 records, address change: until all 2,000 entries hold it\n\n"
        f"Default limit (1,000 requests per window), window scaled 1/{SCALE} "
        f"({WINDOW:g} s for 15 min).\n"
    )
    print(
        "| engine | requests | 429s | rounds | time to converge (9 s window) |\n"
        "|---|---:|---:|---:|---:|"
    )
    for label, requests, refused, took, rounds in address_change(keys):
        print(f"| {label} | {requests} | {refused} | {rounds} | {took:.1f} s |")
    print(
        "\nWith TransIP's 15-minute window sending takes little of a window, so the 2,000 "
        "PATCHes\n(+ a token) go 900 per window (100 kept for ACME): three windows, ~30 min, "
        "no 429."
    )
    print("\n## `ddnsd once` every 5 minutes for an hour, nothing changed\n")
    print("| set-up | engine | API requests | of which /auth | 429s |\n|---|---|---:|---:|---:|")
    for setup, domains in (("1 domain x 2 records", DOMAINS[:1]), ("1,000 x 2", DOMAINS)):
        for label, requests, auths, refused in once_for_an_hour(keys, domains):
            print(f"| {setup} | {label} | {requests} | {auths} | {refused} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
