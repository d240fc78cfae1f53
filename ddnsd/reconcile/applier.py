"""The applier: a Plan → single-entry API calls → one Outcome per record.

Contract:

* Only the changes in the plan are sent, in order: POST (add), PATCH (update), DELETE
  (delete). There is no whole-zone write.
* A write whose answer was lost or refused in a way that says "the zone is not what you
  planned on" (no answer, 5xx, 409 after the client's own retries, PATCH 406 "Could not
  find match"/"Multiple matches", DELETE 404) is never blindly repeated: the zone is
  re-read and the record re-planned from what is really there, once. A POST that was
  applied although its answer was lost is then found in the zone and not sent again.
* Any other error fails the record with the error's own sentence; other records go on.
* ``dry_run=True`` sends nothing: each record with changes reports NOOP and says what
  would have been written.

Logs (logger ``ddnsd.reconcile.applier``): one INFO line per acknowledged write
(``home.example.test/A: 203.0.113.1 → 203.0.113.2 (PATCH)``), WARNING for lost answers
and failures.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from ddnsd.errors import (
    TransipConflict,
    TransipError,
    TransipNotAcceptable,
    TransipNotFound,
    TransipServerError,
    TransipUnavailable,
    UnsafePlan,
)
from ddnsd.model import DnsEntry, Outcome, RecordSpec
from ddnsd.reconcile.planner import Change, Decision, Plan, RecordPlan, plan_domain

log = logging.getLogger(__name__)

#: PATCH 406 texts that mean "the zone is not what the plan assumed".
_PATCH_MISMATCH = ("could not find match", "multiple matches")


class DnsApi(Protocol):
    """The part of :class:`ddnsd.transip.client.TransipClient` the reconcile layer uses."""

    def list_dns_entries(self, domain: str) -> list[DnsEntry]: ...
    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...
    def update_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...
    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What one round did for one record.

    ``changes``: the writes TransIP acknowledged (dry run: the writes that would be sent).
    ``content``: what the record holds afterwards, when known. ``superseded``: old entries
    a replace (ttl change) still has to delete because it was interrupted; pass them to the
    next plan. ``via``: what the outcome is based on: "api", "dns" (authoritative answer),
    "memory" (a recent API answer within the propagation grace), or "none".
    """

    spec: RecordSpec
    outcome: Outcome
    message: str
    changes: tuple[Change, ...] = ()
    content: str | None = None
    superseded: tuple[DnsEntry, ...] = ()
    via: str = "api"


class Applier:
    """Runs plans against a :class:`DnsApi`; ``requests`` counts the calls it made."""

    def __init__(self, client: DnsApi, *, dry_run: bool = False) -> None:
        self.client = client
        self.dry_run = dry_run
        self.requests = 0

    # ------------------------------------------------------------------ API calls

    def list_entries(self, domain: str) -> list[DnsEntry]:
        self.requests += 1
        return self.client.list_dns_entries(domain)

    def _send(self, change: Change) -> None:
        self.requests += 1
        if change.kind == "add":
            self.client.add_dns_entry(change.domain, change.entry)
        elif change.kind == "update":
            self.client.update_dns_entry(change.domain, change.entry)
        else:
            self.client.delete_dns_entry(change.domain, change.entry)

    # ------------------------------------------------------------------ applying

    def apply(
        self, plan: Plan, *, superseded: Collection[DnsEntry] = ()
    ) -> dict[str, RecordResult]:
        """Carry out ``plan``; one result per record, keyed by ``spec.key``.

        ``superseded`` is handed to the planner when a record has to be re-planned.
        """
        results: dict[str, RecordResult] = {}
        for record in plan.records:
            results[record.spec.key] = self._apply_record(plan.domain, record, superseded)
        return results

    def _apply_record(
        self, domain: str, record: RecordPlan, superseded: Collection[DnsEntry]
    ) -> RecordResult:
        spec = record.spec
        if record.decision is Decision.UNKNOWN:
            return RecordResult(
                spec,
                Outcome.FAILED,
                f"{spec.key}: no {spec.type} address known this round; left unchanged",
                via="none",
            )
        if record.decision is Decision.CONFLICT:
            return RecordResult(spec, Outcome.CONFLICT, f"{spec.key}: {record.reason}")
        if record.decision is Decision.IN_SYNC:
            return RecordResult(
                spec,
                Outcome.NOOP,
                f"{spec.key}: in sync ({record.desired})",
                content=record.desired,
            )
        if self.dry_run:
            for c in record.changes:
                log.info("dry run: would %s", c.describe())
            text = "; ".join(c.describe() for c in record.changes)
            return RecordResult(
                spec, Outcome.NOOP, f"dry run, nothing written: {text}", changes=record.changes
            )
        return self._execute(domain, record, superseded)

    def _execute(
        self, domain: str, record: RecordPlan, superseded: Collection[DnsEntry]
    ) -> RecordResult:
        spec = record.spec
        pending = list(record.changes)
        done: list[Change] = []
        replanned = False
        ambiguous = False  # a write whose answer was lost may have been applied

        def leftovers() -> tuple[DnsEntry, ...]:
            if not any(c.kind == "add" for c in done):
                return ()
            return tuple(c.entry for c in pending if c.kind == "delete")

        def failed(message: str) -> RecordResult:
            log.warning("%s", message)
            return RecordResult(
                spec, Outcome.FAILED, message, changes=tuple(done), superseded=leftovers()
            )

        while pending:
            change = pending[0]
            try:
                self._send(change)
            except TransipError as exc:
                what = (
                    f"{spec.key}: {change.method} {change.entry.describe()} {change.entry.content}"
                )
                if replanned or not _worth_replanning(change, exc):
                    return failed(f"{what} failed: {exc}")
                replanned = True
                ambiguous = ambiguous or isinstance(
                    exc, TransipUnavailable | TransipServerError | TransipConflict
                )
                log.warning("%s: %s; re-reading the zone before anything else", what, exc)
                intended = {c.entry for c in record.changes if c.kind == "delete"}
                try:
                    fresh = self.list_entries(domain)
                    redo = plan_domain(
                        domain,
                        [spec],
                        {spec.key: record.address},
                        fresh,
                        superseded={*superseded, *intended},
                    ).records[0]
                except (TransipError, UnsafePlan) as exc2:
                    return failed(f"{what} failed ({exc}) and re-planning failed: {exc2}")
                if redo.decision is Decision.CONFLICT:
                    return RecordResult(
                        spec,
                        Outcome.CONFLICT,
                        f"{spec.key}: {redo.reason}",
                        changes=tuple(done),
                    )
                pending = list(redo.changes)
                if not pending:
                    log.info("%s: the zone already holds %s", spec.key, redo.desired)
                continue
            pending.pop(0)
            done.append(change)
            log.info("%s", change.describe())

        if not done and not ambiguous:
            # Re-planned into sync without writing (someone else fixed it).
            return RecordResult(
                spec,
                Outcome.NOOP,
                f"{spec.key}: in sync ({record.desired})",
                content=record.desired,
            )
        text = "; ".join(c.describe() for c in done) or (
            f"{spec.key}: now {record.desired} (the lost write was applied)"
        )
        return RecordResult(
            spec, Outcome.UPDATED, text, changes=tuple(done), content=record.desired
        )


def _worth_replanning(change: Change, exc: TransipError) -> bool:
    """Does this error mean "re-read the zone and plan again" (instead of "give up")?"""
    if isinstance(exc, TransipUnavailable | TransipServerError | TransipConflict):
        return True  # lost answer / transient: the write may or may not have happened
    if change.kind == "update" and isinstance(exc, TransipNotAcceptable):
        return any(text in exc.message.lower() for text in _PATCH_MISMATCH)
    return change.kind == "delete" and isinstance(exc, TransipNotFound)
