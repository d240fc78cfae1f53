"""One reconcile round: addresses → (DNS check) → (API read → plan → apply) → outcomes.

Cost model (the point of this module): while nothing changes a round costs no API
request at all.

1. Per record, the desired content is the detected address of its family (``ipv6_host``
   applied). Unknown address → FAILED for that record, nothing touched.
2. Per domain, the API is skipped when every record is accounted for without it:

   * *memory*: the API itself wrote or showed this content less than
     ``propagation_grace`` seconds ago (slow nameservers must not cause repeated writes);
   * *dns*: every authoritative nameserver of the zone (``authdns.authoritative_servers``,
     or the ``nameservers`` override) answers exactly the desired address, one value;
   * *known conflict*: the API reported a conflict and the nameservers still serve the
     same values.

   Otherwise, or when the last full read of the domain is ``verify_interval`` old, or in
   the first round of the process, the domain's entries are read with ONE GET, every
   record of the domain is planned and the plan applied. The first round always reads:
   DNS cannot show a TTL change, duplicates or a conflict, and one GET per domain per
   process start is cheap. DNS failures fall back to the API (logged once per reason).

Memory (written/confirmed content, conflicts, notes already logged) lives in the Engine object
only; a new process starts with a full read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ddnsd import authdns
from ddnsd.authdns import Nameserver
from ddnsd.errors import DdnsdError, TransipError, UnsafePlan
from ddnsd.model import Outcome, RecordSpec
from ddnsd.reconcile.applier import Applier, DnsApi, RecordResult
from ddnsd.reconcile.planner import check_specs, desired_content, plan_domain, same_content

log = logging.getLogger(__name__)

DnsQuery = Callable[[Nameserver, str, str], list[str]]
DnsServers = Callable[[str, "list[str] | None"], list[Nameserver]]


@dataclass(frozen=True, slots=True)
class RoundResult:
    """Per-record results of one round (keyed by ``spec.key``) and what it cost."""

    records: dict[str, RecordResult]
    api_requests: int  # client calls made this round (the client's own retries not counted)
    api_consulted: bool

    @property
    def outcomes(self) -> dict[str, Outcome]:
        return {k: r.outcome for k, r in self.records.items()}

    @property
    def ok(self) -> bool:
        """Every record is in sync or was updated."""
        return all(r.outcome.ok for r in self.records.values())

    @property
    def changed(self) -> bool:
        return any(r.outcome is Outcome.UPDATED for r in self.records.values())


@dataclass(slots=True)
class _Seen:
    content: str  # content the API wrote or listed
    at: float


@dataclass(slots=True)
class _DomainState:
    last_read: float | None = None
    servers: list[Nameserver] | None = None
    servers_at: float = 0.0
    dns_problem: str = ""


class Engine:
    """Keeps ``specs`` equal to the addresses handed to :meth:`run_round`.

    Raises UnsafePlan at construction for duplicate records or types other than A/AAAA.
    """

    def __init__(
        self,
        client: DnsApi,
        specs: list[RecordSpec],
        *,
        nameservers: list[str] | None,
        propagation_grace: float = 600,
        verify_interval: float = 3600,
        clock: Callable[[], float] = time.monotonic,
        dns_query: DnsQuery = authdns.query,
        dns_servers: DnsServers = authdns.authoritative_servers,
        dry_run: bool = False,
    ) -> None:
        self.specs = list(specs)
        self.nameservers = list(nameservers) if nameservers else None
        self.propagation_grace = propagation_grace
        self.verify_interval = verify_interval
        self.clock = clock
        self.dns_query = dns_query
        self.dns_servers = dns_servers
        self.dry_run = dry_run
        self.applier = Applier(client, dry_run=dry_run)
        self._lock = threading.Lock()
        self._domains: dict[str, _DomainState] = {}
        self._seen: dict[str, _Seen] = {}  # spec.key → last content the API wrote/showed
        self._conflicts: dict[str, tuple[str, ...]] = {}  # spec.key → DNS values at conflict
        self._noted: set[str] = set()  # notes already logged (once per process)
        check_specs(self.specs)  # UnsafePlan now rather than every round
        self._by_domain: dict[str, list[RecordSpec]] = {}
        for spec in self.specs:
            self._by_domain.setdefault(spec.domain, []).append(spec)

    # ------------------------------------------------------------------ the round

    def run_round(self, addresses: dict[str, str | None]) -> RoundResult:
        """One round. ``addresses`` maps "A"/"AAAA" → the agreed address (None = unknown)."""
        with self._lock:
            before = self.applier.requests
            consulted = False
            results: dict[str, RecordResult] = {}
            for domain, specs in self._by_domain.items():
                consulted |= self._round_domain(domain, specs, addresses, results)
            return RoundResult(
                records={s.key: results[s.key] for s in self.specs},
                api_requests=self.applier.requests - before,
                api_consulted=consulted,
            )

    def _round_domain(
        self,
        domain: str,
        specs: list[RecordSpec],
        addresses: dict[str, str | None],
        results: dict[str, RecordResult],
    ) -> bool:
        now = self.clock()
        state = self._domains.setdefault(domain, _DomainState())
        desired: dict[str, str] = {}
        for spec in specs:
            try:
                value = desired_content(spec, addresses.get(spec.type))
            except UnsafePlan as exc:
                log.error("%s", exc)
                results[spec.key] = RecordResult(spec, Outcome.FAILED, str(exc), via="none")
                continue
            if value is None:
                msg = f"{spec.key}: no {spec.type} address known this round; left unchanged"
                log.debug("%s", msg)
                results[spec.key] = RecordResult(spec, Outcome.FAILED, msg, via="none")
                continue
            desired[spec.key] = value
        active = [s for s in specs if s.key in desired]
        if not active:
            return False

        verify_due = state.last_read is None or now - state.last_read >= self.verify_interval
        dns_seen: dict[str, tuple[str, ...]] = {}
        if not verify_due:
            need_api = False
            for spec in active:  # no early exit: conflict memory wants every DNS answer
                result = self._without_api(spec, desired[spec.key], state, now, dns_seen)
                if result is None:
                    need_api = True
                else:
                    results[spec.key] = result
            if not need_api:
                return False
        else:
            why = "first round" if state.last_read is None else "periodic verification"
            log.debug("%s: reading the zone from the API (%s)", domain, why)

        try:
            entries = self.applier.list_entries(domain)
        except TransipError as exc:
            msg = f"reading the DNS entries of {domain} failed: {exc}"
            log.warning("%s", msg)
            for spec in active:
                results[spec.key] = RecordResult(spec, Outcome.FAILED, msg)
            return True
        state.last_read = now
        try:
            plan = plan_domain(
                domain,
                active,
                {s.key: addresses.get(s.type) for s in active},
                entries,
            )
        except UnsafePlan as exc:
            log.error("%s: %s", domain, exc)
            for spec in active:
                results[spec.key] = RecordResult(spec, Outcome.FAILED, str(exc))
            return True

        applied = self.applier.apply(plan)

        done = self.clock()
        for spec in active:
            result = applied[spec.key]
            results[spec.key] = result
            self._remember(spec, result, done, dns_seen.get(spec.key))
        return True

    # ------------------------------------------------------------------ helpers

    def _remember(
        self, spec: RecordSpec, result: RecordResult, now: float, dns: tuple[str, ...] | None
    ) -> None:
        key = spec.key
        if result.outcome is Outcome.CONFLICT:
            if key not in self._conflicts:
                log.warning("%s", result.message)
            else:
                log.debug("%s", result.message)
            self._conflicts[key] = dns if dns is not None else ()
            self._seen.pop(key, None)
            return
        self._conflicts.pop(key, None)
        for note in result.notes:
            if note not in self._noted:
                self._noted.add(note)
                log.warning("%s", note)
        if result.outcome is Outcome.NOOP:
            log.debug("%s", result.message)
        if self.dry_run:
            return
        if result.outcome.ok and result.content is not None:
            # The API wrote or showed this content: trust it for propagation_grace.
            self._seen[key] = _Seen(result.content, now)
        else:
            self._seen.pop(key, None)

    def _without_api(
        self,
        spec: RecordSpec,
        desired: str,
        state: _DomainState,
        now: float,
        dns_seen: dict[str, tuple[str, ...]],
    ) -> RecordResult | None:
        """A result for ``spec`` that needs no API request, or None (ask the API)."""
        seen = self._seen.get(spec.key)
        if seen and now - seen.at < self.propagation_grace:
            age = now - seen.at
            if not same_content(spec.type, seen.content, desired):
                # TransIP holds something else since moments ago: nameservers that still
                # show ``desired`` are lagging behind that write, not in sync.
                return None
            msg = (
                f"{spec.key}: TransIP holds {desired} since {age:.0f}s; "
                "trusting it while the nameservers catch up"
            )
            log.debug("%s", msg)
            return RecordResult(spec, Outcome.NOOP, msg, content=desired, via="memory")

        values = self._ask_nameservers(spec, state, now)
        if values is None:
            return None
        dns_seen[spec.key] = values
        if values == (desired,):
            self._conflicts.pop(spec.key, None)
            msg = f"{spec.key}: in sync ({desired}, every authoritative nameserver agrees)"
            log.debug("%s", msg)
            return RecordResult(spec, Outcome.NOOP, msg, content=desired, via="dns")
        known = self._conflicts.get(spec.key)
        if known is not None and known == values:
            msg = f"{spec.key}: still several entries ({', '.join(values)}); left alone"
            log.debug("%s", msg)
            return RecordResult(spec, Outcome.CONFLICT, msg, via="memory")
        log.debug(
            "%s: nameservers serve %s, want %s; asking the API",
            spec.key,
            ", ".join(values) or "nothing",
            desired,
        )
        return None

    def _ask_nameservers(
        self, spec: RecordSpec, state: _DomainState, now: float
    ) -> tuple[str, ...] | None:
        """The values every authoritative server serves (canonical, sorted), if they agree.

        None when a server failed or the servers disagree with each other (the API decides).
        """
        try:
            if state.servers is None or now - state.servers_at >= self.verify_interval:
                state.servers = self.dns_servers(spec.domain, self.nameservers)
                state.servers_at = now
            servers = state.servers
            answers = [
                _canonical(spec.type, self.dns_query(ns, spec.fqdn, spec.type)) for ns in servers
            ]
        except DdnsdError as exc:
            state.servers = None
            self._dns_problem(state, spec, f"{exc}")
            return None
        if not answers:
            self._dns_problem(state, spec, f"no authoritative nameserver for {spec.domain}")
            return None
        state.dns_problem = ""
        if any(a != answers[0] for a in answers[1:]):
            log.debug(
                "%s: nameservers disagree (%s); asking the API",
                spec.key,
                "; ".join(
                    f"{ns}: {', '.join(a) or 'nothing'}"
                    for ns, a in zip(servers, answers, strict=True)
                ),
            )
            return None
        return answers[0]

    def _dns_problem(self, state: _DomainState, spec: RecordSpec, why: str) -> None:
        text = f"{spec.key}: cannot check the authoritative nameservers ({why}); asking the API"
        if why != state.dns_problem:
            log.warning("%s", text)
        else:
            log.debug("%s", text)
        state.dns_problem = why


def _canonical(rtype: str, values: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        try:
            out.append(desired_content(RecordSpec("x", "@", rtype), v) or v)
        except UnsafePlan:
            out.append(v)
    return tuple(sorted(out))
