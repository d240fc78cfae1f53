"""One reconcile round: addresses → DNS drift check → (API read / PATCH → plan → apply).

Cost model (the point of this module): while nothing changes a round costs no API
request at all, in every mode (``run`` and each ``once``), from the first round on.

1. Per record, the desired content is the detected address of its family (``ipv6_host``
   applied). Unknown address → FAILED for that record, nothing touched.
2. Per record, without the API (memory in the state dir, ``memory.py``):

   * *memory*: the API itself wrote or showed this content less than
     ``propagation_grace`` seconds ago (slow nameservers must not cause repeated writes);
   * *dns*: every authoritative nameserver answers exactly the desired address, one value
     (asked for all domains at once, ``drift.py``);
   * *known conflict*: the API reported a conflict and the nameservers still serve the
     same values.

3. Otherwise the API. Where every nameserver shows exactly one other value with one TTL,
   the entry is known without reading it: one PATCH (name + TTL + type match the stored
   entry); a 406 "no match" / "multiple matches" falls back to one GET and the full plan
   (applier.py). Anything else (no entry in DNS, several values, DNS failing, a recent
   write DNS has not caught up with) costs one GET of the domain, then the plan.
4. Each domain's zone is also read back once per ``verify_interval`` at its own point in
   the interval (``schedule.py``): never all domains in one round, not in the first round
   of a fresh state dir where DNS already agrees.
5. The API work runs domain by domain, longest-waiting first, a domain's records together:
   when the request budget (``budget``) cannot fit a domain, or TransIP's rate limit ends
   a call (``ApiDeferred``), that domain and every later one are DEFERRED and
   ``RoundResult.deferred_until`` says when to come back. Nothing more is sent this round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ddnsd import authdns
from ddnsd.errors import ApiDeferred, TransipError, UnsafePlan
from ddnsd.model import DnsEntry, Outcome, RecordSpec
from ddnsd.reconcile.applier import Applier, DnsApi, RecordResult
from ddnsd.reconcile.drift import DnsQuery, DnsServers, DriftCheck, View
from ddnsd.reconcile.memory import Memory, SeenValue
from ddnsd.reconcile.planner import check_specs, desired_content, plan_domain
from ddnsd.reconcile.result import RoundResult, deferred
from ddnsd.reconcile.triage import Triage, Work

log = logging.getLogger(__name__)

#: ``budget(count)``: None when ``count`` more requests fit now, else when they may.
BudgetCheck = Callable[[int], "float | None"]

__all__ = ["BudgetCheck", "Engine", "RoundResult"]


class Engine:
    """Keeps ``specs`` equal to the addresses handed to :meth:`run_round`.

    ``memory`` (default: in this process only) is what ``once`` runs share through the
    state dir; ``budget`` (default: none) is asked before each domain's API work; ``clock``
    is the wall clock. Raises UnsafePlan at construction for duplicate records or types
    other than A/AAAA.
    """

    def __init__(
        self,
        client: DnsApi,
        specs: list[RecordSpec],
        *,
        nameservers: list[str] | None,
        propagation_grace: float = 600,
        verify_interval: float = 3600,
        clock: Callable[[], float] = time.time,
        dns_query: DnsQuery = authdns.query,
        dns_servers: DnsServers = authdns.authoritative_servers,
        dry_run: bool = False,
        memory: Memory | None = None,
        budget: BudgetCheck | None = None,
    ) -> None:
        self.specs = list(specs)
        self.propagation_grace = propagation_grace
        self.verify_interval = verify_interval
        self.clock = clock
        self.dry_run = dry_run
        self.budget = budget
        self.applier = Applier(client, dry_run=dry_run)
        self.drift = DriftCheck(
            nameservers=list(nameservers) if nameservers else None,
            dns_query=dns_query,
            dns_servers=dns_servers,
            servers_ttl=verify_interval,
        )
        check_specs(self.specs)  # UnsafePlan now rather than every round
        self._by_domain: dict[str, list[RecordSpec]] = {}
        for spec in self.specs:
            self._by_domain.setdefault(spec.domain, []).append(spec)
        self.memory = memory or Memory(None, [s.key for s in self.specs], self._by_domain)
        self.triage = Triage(
            self._by_domain,
            self.memory,
            self.drift,
            propagation_grace=propagation_grace,
            verify_interval=verify_interval,
        )
        self._lock = threading.Lock()
        self._noted: set[str] = set()  # notes already logged (once per process)

    # ------------------------------------------------------------------ the round

    def run_round(self, addresses: dict[str, str | None]) -> RoundResult:
        """One round. ``addresses`` maps "A"/"AAAA" → the agreed address (None = unknown)."""
        with self._lock:
            self.memory.load()
            now = self.clock()
            before = self.applier.requests
            results: dict[str, RecordResult] = {}
            desired = _desired(self.specs, addresses, results)
            views = self.triage.views(desired, now, results)
            work = self.triage.work(desired, views, now, results)
            deferred_until, consulted = self._run_work(work, addresses, views, results)
            self.triage.note_waiting(work, results, now)
            self.memory.save()
            return RoundResult(
                records={s.key: results[s.key] for s in self.specs},
                api_requests=self.applier.requests - before,
                api_consulted=consulted,
                deferred_until=deferred_until,
            )

    def _run_work(
        self,
        work: list[Work],
        addresses: dict[str, str | None],
        views: dict[str, View],
        results: dict[str, RecordResult],
    ) -> tuple[float | None, bool]:
        until: float | None = None
        consulted = False
        for item in work:
            if until is None and self.budget is not None:
                until = self.budget(max(len(item.pending) + int(item.read), 1))
            if until is None:
                consulted = True
                try:
                    self._domain(item, addresses, views, results)
                    continue
                except ApiDeferred as exc:
                    until = exc.until
            for spec in item.pending:  # put off: the rest of the round waits for the budget
                if spec.key not in results:
                    results[spec.key] = deferred(spec, until)
        count = sum(1 for r in results.values() if r.outcome is Outcome.DEFERRED)
        if until is None or not count:  # at most a read-back waits: the next round does it
            return None, consulted
        log.warning(
            "%d record(s) deferred until %s: TransIP's rate limit (the request budget "
            "shared by every ddnsd process of this login)",
            count,
            time.strftime("%H:%M:%S", time.localtime(until)),
        )
        return until, consulted

    def _domain(
        self,
        item: Work,
        addresses: dict[str, str | None],
        views: dict[str, View],
        results: dict[str, RecordResult],
    ) -> None:
        domain, specs = item.domain, item.specs
        if item.read:
            why = "DNS cannot tell" if item.pending else "periodic verification"
            log.debug("%s: reading the zone from the API (%s)", domain, why)
            try:
                entries = self.applier.list_entries(domain)
            except ApiDeferred:
                raise
            except TransipError as exc:
                msg = f"reading the DNS entries of {domain} failed: {exc}"
                log.warning("%s", msg)
                for spec in item.pending:
                    results[spec.key] = RecordResult(spec, Outcome.FAILED, msg)
                return
            self.memory.known.verified[domain] = self.clock()
        else:
            entries = [_shown(s, views[s.key]) for s in specs]
        try:
            plan = plan_domain(
                domain, specs, {s.key: addresses.get(s.type) for s in specs}, entries
            )
        except UnsafePlan as exc:
            log.error("%s: %s", domain, exc)
            for spec in specs:
                results[spec.key] = RecordResult(spec, Outcome.FAILED, str(exc))
            return
        applied = self.applier.apply(plan)
        done = self.clock()
        for spec in specs:
            result = applied[spec.key]
            results[spec.key] = result
            view = views.get(spec.key, View(None))
            self._remember(spec, result, done, None if view.remembered else view.values)
        stopped, self.applier.deferred = self.applier.deferred, None
        if stopped is not None:
            raise stopped

    # ------------------------------------------------------------------ memory

    def _remember(
        self, spec: RecordSpec, result: RecordResult, now: float, dns: tuple[str, ...] | None
    ) -> None:
        known, key = self.memory.known, spec.key
        if result.outcome is Outcome.DEFERRED:
            return
        if result.outcome is Outcome.CONFLICT:
            if key not in known.conflicts:
                log.warning("%s", result.message)
            else:
                log.debug("%s", result.message)
            known.conflicts[key] = dns if dns is not None else ()
            known.seen.pop(key, None)
            return
        known.conflicts.pop(key, None)
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
            known.seen[key] = SeenValue(result.content, now, result.expire)
        else:
            known.seen.pop(key, None)


def _shown(spec: RecordSpec, view: View) -> DnsEntry:
    """The one entry DNS shows for ``spec`` (its TTL is TransIP's expire: PATCH matches it)."""
    assert view.values is not None and view.ttl is not None
    return DnsEntry(spec.name, view.ttl, spec.type, view.values[0])


def _desired(
    specs: list[RecordSpec], addresses: dict[str, str | None], results: dict[str, RecordResult]
) -> dict[str, str]:
    """The content each record should hold; records without one get their FAILED result."""
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
    return desired
