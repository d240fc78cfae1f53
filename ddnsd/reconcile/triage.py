"""Triage of one round: which records memory or DNS decide, and what needs the API.

Per record, without the API: *memory* (the API wrote or showed the desired content less
than ``propagation_grace`` ago), *dns* (every authoritative nameserver answers exactly
the desired value; asked for all domains at once, ``drift.py``), or a *known conflict*
(the nameservers still serve the values the API reported as a conflict). What is left
becomes a domain's API work: one PATCH where DNS shows exactly one entry ddnsd did not
just replace, or where ddnsd wrote the record's one entry within the grace (the
remembered entry: the nameservers may not serve it yet), else one GET and the full plan;
plus the periodic read-back (``schedule.py``). The work comes back in the order it is
done: longest-waiting first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ddnsd.model import Outcome, RecordSpec
from ddnsd.reconcile import schedule
from ddnsd.reconcile.applier import RecordResult
from ddnsd.reconcile.drift import DriftCheck, View
from ddnsd.reconcile.memory import Memory
from ddnsd.reconcile.planner import same_content

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Work:
    """The API work of one domain this round."""

    domain: str
    specs: list[RecordSpec]  # the records the work plans
    pending: list[RecordSpec]  # those neither memory nor DNS could decide (wait if deferred)
    read: bool  # GET the zone first (else PATCH what DNS showed)


class Triage:
    """Sorts a round's records into decided (by memory or DNS) and API work."""

    def __init__(
        self,
        by_domain: dict[str, list[RecordSpec]],
        memory: Memory,
        drift: DriftCheck,
        *,
        propagation_grace: float,
        verify_interval: float,
    ) -> None:
        self._by_domain = by_domain
        self.specs = [s for specs in by_domain.values() for s in specs]
        self.memory = memory
        self.drift = drift
        self.propagation_grace = propagation_grace
        self.verify_interval = verify_interval

    def views(
        self, desired: dict[str, str], now: float, results: dict[str, RecordResult]
    ) -> dict[str, View]:
        """Decide what memory can; ask the nameservers about the rest (all domains at once)."""
        ask: dict[str, list[RecordSpec]] = {}
        remembered: dict[str, View] = {}
        for spec in self.specs:
            if spec.key not in desired:
                continue
            seen = self.memory.known.seen.get(spec.key)
            if seen is None or now - seen.at >= self.propagation_grace:
                ask.setdefault(spec.domain, []).append(spec)
            elif same_content(spec.type, seen.content, desired[spec.key]):
                msg = (
                    f"{spec.key}: TransIP holds {desired[spec.key]} since "
                    f"{now - seen.at:.0f}s; trusting it while the nameservers catch up"
                )
                log.debug("%s", msg)
                results[spec.key] = RecordResult(
                    spec, Outcome.NOOP, msg, content=desired[spec.key], via="memory"
                )
            elif seen.expire is not None:
                # TransIP holds the entry ddnsd wrote moments ago, which the nameservers may
                # not serve yet: PATCH that entry (a 406 when it changed meanwhile: one GET)
                remembered[spec.key] = View((seen.content,), seen.expire, remembered=True)
            # else: TransIP holds something else since moments ago (its expire unknown);
            # nameservers that still show the desired value lag behind: the API decides
        views = self.drift.check(ask, now)
        views.update(remembered)
        return views

    def work(
        self,
        desired: dict[str, str],
        views: dict[str, View],
        now: float,
        results: dict[str, RecordResult],
    ) -> list[Work]:
        """What each domain needs from the API, in the order it is done."""
        known = self.memory.known
        needed: list[Work] = []
        checks: list[Work] = []
        for domain, specs in self._by_domain.items():
            active = [s for s in specs if s.key in desired]
            if not active:
                continue
            known.first_seen.setdefault(domain, now)
            read, patch = False, []
            for spec in active:
                if spec.key in results:  # memory decided
                    continue
                view = views.get(spec.key, View(None))
                verdict = self._judge(spec, desired[spec.key], view)
                if verdict is not None:
                    results[spec.key] = verdict
                elif self._patchable(spec, view):
                    patch.append(spec)
                else:
                    read = True
            due = schedule.verify_due(
                domain,
                now,
                verified=known.verified.get(domain),
                first_seen=known.first_seen[domain],
                interval=self.verify_interval,
            )
            pending = [s for s in active if s.key not in results]
            if read or (patch and due):
                needed.append(Work(domain, active, pending, read=True))
            elif patch:
                needed.append(Work(domain, patch, pending, read=False))
            elif due:
                checks.append(Work(domain, active, [], read=True))
        waiting = {w.domain: min(known.waiting.get(s.key, now) for s in w.pending) for w in needed}
        order = schedule.write_order([w.domain for w in needed], waiting)
        by_domain = {w.domain: w for w in needed}
        return [by_domain[d] for d in order] + checks

    def _judge(self, spec: RecordSpec, desired: str, view: View) -> RecordResult | None:
        """The result DNS alone gives (in sync, a known conflict), or None."""
        values = view.values
        if values is None:
            return None
        conflicts = self.memory.known.conflicts
        if values == (desired,):
            conflicts.pop(spec.key, None)
            msg = f"{spec.key}: in sync ({desired}, every authoritative nameserver agrees)"
            log.debug("%s", msg)
            return RecordResult(spec, Outcome.NOOP, msg, content=desired, via="dns")
        if values and conflicts.get(spec.key) == values:  # () is "no DNS view", not "nothing"
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

    def _patchable(self, spec: RecordSpec, view: View) -> bool:
        """DNS shows exactly one entry (content and TTL) that ddnsd did not just replace."""
        if view.values is None or len(view.values) != 1 or view.ttl is None:
            return False
        seen = self.memory.known.seen.get(spec.key)
        # ddnsd wrote something else since: DNS lags behind it, or someone changed it
        return seen is None or same_content(spec.type, seen.content, view.values[0])

    def note_waiting(self, work: list[Work], results: dict[str, RecordResult], now: float) -> None:
        """Records that needed the API and did not get it wait on (first in line next time)."""
        waiting = self.memory.known.waiting
        for item in work:
            for spec in item.pending:
                if results[spec.key].outcome in (Outcome.DEFERRED, Outcome.FAILED):
                    waiting.setdefault(spec.key, now)
        for spec in self.specs:
            if results[spec.key].outcome in (Outcome.NOOP, Outcome.UPDATED, Outcome.CONFLICT):
                waiting.pop(spec.key, None)
