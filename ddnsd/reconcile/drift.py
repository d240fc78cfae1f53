"""The drift check: what every authoritative nameserver serves for each record, asked for
many domains at once (a bounded pool of threads; 1,000 domains x 2 records take a few
seconds instead of a minute one by one).

Per domain the nameservers come from ``dns_servers`` (the ``[dns] nameservers`` override
or the zone's NS records), kept for ``servers_ttl`` seconds. A record's :class:`View` holds
the values every server agrees on, canonical and sorted, and their TTL when the servers
agree on it too; ``values`` None means a server failed or the servers disagree (the API
decides then). A failure is logged once per domain and reason, not every round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ddnsd.authdns import Nameserver
from ddnsd.errors import DdnsdError, UnsafePlan
from ddnsd.model import RecordSpec
from ddnsd.reconcile.planner import desired_content

log = logging.getLogger(__name__)

DnsQuery = Callable[[Nameserver, str, str], list[str]]
DnsServers = Callable[[str, "list[str] | None"], list[Nameserver]]

WORKERS = 32  # DNS queries in flight at once: enough for 1,000 domains, gentle on a server


@dataclass(frozen=True, slots=True)
class View:
    """What the authoritative nameservers serve for one record."""

    values: tuple[str, ...] | None  # None: a server failed, or the servers disagree
    ttl: int | None = None  # when every server serves the same TTL
    #: Not asked: the entry ddnsd wrote moments ago, which the nameservers may not serve yet.
    remembered: bool = False


@dataclass(slots=True)
class _Servers:
    servers: list[Nameserver] | None = None
    at: float = 0.0
    problem: str = ""


class DriftCheck:
    """Asks every authoritative nameserver of each domain for its records' values."""

    def __init__(
        self,
        *,
        nameservers: list[str] | None,
        dns_query: DnsQuery,
        dns_servers: DnsServers,
        servers_ttl: float,
        workers: int = WORKERS,
    ) -> None:
        self.nameservers = nameservers
        self.dns_query = dns_query
        self.dns_servers = dns_servers
        self.servers_ttl = servers_ttl
        self.workers = max(1, workers)
        self._domains: dict[str, _Servers] = {}
        self._lock = threading.Lock()

    def check(self, by_domain: Mapping[str, Sequence[RecordSpec]], now: float) -> dict[str, View]:
        """A view per record key of every record in ``by_domain`` (domain → its records)."""
        items = [(d, specs) for d, specs in by_domain.items() if specs]
        if not items:
            return {}
        views: dict[str, View] = {}
        if len(items) == 1 or self.workers == 1:
            for domain, specs in items:
                views.update(self._domain(domain, specs, now))
            return views
        with ThreadPoolExecutor(min(self.workers, len(items)), "ddnsd-drift") as pool:
            for found in pool.map(lambda item: self._domain(item[0], item[1], now), items):
                views.update(found)
        return views

    def _domain(self, domain: str, specs: Sequence[RecordSpec], now: float) -> dict[str, View]:
        with self._lock:
            state = self._domains.setdefault(domain, _Servers())
        try:
            if state.servers is None or now - state.at >= self.servers_ttl:
                state.servers, state.at = self.dns_servers(domain, self.nameservers), now
            servers = state.servers
            if not servers:
                raise DdnsdError(f"no authoritative nameserver for {domain}")
            answers = {s.key: [self.dns_query(ns, s.fqdn, s.type) for ns in servers] for s in specs}
        except DdnsdError as exc:
            state.servers = None
            self._problem(state, domain, str(exc))
            return {s.key: View(None) for s in specs}
        state.problem = ""
        return {s.key: _agreed(s, servers, answers[s.key]) for s in specs}

    def _problem(self, state: _Servers, domain: str, why: str) -> None:
        text = f"{domain}: cannot check the authoritative nameservers ({why}); asking the API"
        if why != state.problem:
            log.warning("%s", text)
        else:
            log.debug("%s", text)
        state.problem = why


def _agreed(spec: RecordSpec, servers: list[Nameserver], answers: list[list[str]]) -> View:
    canonical = [_canonical(spec.type, a) for a in answers]
    if any(a != canonical[0] for a in canonical[1:]):
        log.debug(
            "%s: nameservers disagree (%s); asking the API",
            spec.key,
            "; ".join(
                f"{ns}: {', '.join(a) or 'nothing'}"
                for ns, a in zip(servers, canonical, strict=True)
            ),
        )
        return View(None)
    ttls = {getattr(a, "ttl", None) for a in answers}
    ttl = ttls.pop() if len(ttls) == 1 else None
    return View(canonical[0], ttl if isinstance(ttl, int) else None)


def _canonical(rtype: str, values: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        try:
            out.append(desired_content(RecordSpec("x", "@", rtype), v) or v)
        except UnsafePlan:
            out.append(v)
    return tuple(sorted(out))
