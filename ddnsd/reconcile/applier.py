"""The applier: a Plan → single-entry API calls → one Outcome per record.

Contract:

* Only the changes in the plan are sent, in order: POST (add), PATCH (update), DELETE
  (delete). There is no whole-zone write.
* A write whose answer was lost or refused in a way that says "the zone is not what you
  planned on" (no answer, 5xx, 409 after the client's own retries, POST 406 "already
  exists", PATCH 406 "Could not find match"/"Multiple matches", DELETE 404) is never
  blindly repeated: the zone is re-read and the record re-planned from what is really
  there, once. A POST that was applied although its answer was lost is then found in the
  zone and not sent again.
* Any other error fails the record with the error's own sentence; other records go on.
* ``ApiDeferred`` (the request budget is spent, or TransIP answered 429): the record and
  every later one of the plan are DEFERRED, nothing more is sent; ``deferred`` holds the
  error (its ``until``) for the engine.
* ``dry_run=True`` sends nothing: each record with changes reports NOOP and says what
  would have been written.

Logs (logger ``ddnsd.reconcile.applier``): one INFO line per acknowledged write
(``home.example.test/A: 203.0.113.1 → 203.0.113.2 (PATCH)``), WARNING for lost answers
and failures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from ddnsd.errors import (
    ApiDeferred,
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
from ddnsd.transip.wire import is_already_exists, is_patch_mismatch

log = logging.getLogger(__name__)


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
    ``content``: what the record holds afterwards, when known. ``notes``: things the user
    should know although nothing failed (a ttl that cannot change). ``via``: what the
    outcome is based on: "api", "dns" (authoritative answer), "memory" (a recent API answer
    within the propagation grace), or "none".
    """

    spec: RecordSpec
    outcome: Outcome
    message: str
    changes: tuple[Change, ...] = ()
    content: str | None = None
    notes: tuple[str, ...] = ()
    via: str = "api"
    expire: int | None = None  # the expire of the one entry holding ``content``, when known


class Applier:
    """Runs plans against a :class:`DnsApi`; ``requests`` counts the calls it made."""

    def __init__(self, client: DnsApi, *, dry_run: bool = False) -> None:
        self.client = client
        self.dry_run = dry_run
        self.requests = 0
        self.deferred: ApiDeferred | None = None  # set when the budget stopped a plan

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

    def apply(self, plan: Plan) -> dict[str, RecordResult]:
        """Carry out ``plan``; one result per record, keyed by ``spec.key``."""
        return {r.spec.key: self._apply_record(plan.domain, r) for r in plan.records}

    def _defer(self, spec: RecordSpec, exc: ApiDeferred, done: list[Change]) -> RecordResult:
        self.deferred = self.deferred or exc
        return RecordResult(
            spec, Outcome.DEFERRED, f"{spec.key}: {exc}", changes=tuple(done), via="none"
        )

    def _apply_record(self, domain: str, record: RecordPlan) -> RecordResult:
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
            return _in_sync(record)
        if self.deferred is not None:
            return self._defer(spec, self.deferred, [])
        if self.dry_run:
            for c in record.changes:
                log.info("dry run: would %s", c.describe())
            text = "; ".join(c.describe() for c in record.changes)
            return RecordResult(
                spec,
                Outcome.NOOP,
                f"dry run, nothing written: {text}",
                changes=record.changes,
                notes=record.notes,
            )
        return self._execute(domain, record)

    def _execute(self, domain: str, record: RecordPlan) -> RecordResult:
        spec = record.spec
        pending = list(record.changes)
        done: list[Change] = []
        replanned = False
        ambiguous = False  # a write whose answer was lost may have been applied

        def failed(message: str) -> RecordResult:
            log.warning("%s", message)
            return RecordResult(spec, Outcome.FAILED, message, changes=tuple(done))

        while pending:
            change = pending[0]
            try:
                self._send(change)
            except ApiDeferred as exc:
                return self._defer(spec, exc, done)
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
                log.warning("%s: %s; reading the zone again to see what happened", what, exc)
                try:
                    fresh = self.list_entries(domain)
                    redo = plan_domain(domain, [spec], {spec.key: record.address}, fresh)
                except ApiDeferred as exc2:
                    return self._defer(spec, exc2, done)
                except (TransipError, UnsafePlan) as exc2:
                    return failed(f"{what} failed ({exc}) and re-planning failed: {exc2}")
                record = redo.records[0]
                if record.decision is Decision.CONFLICT:
                    msg = f"{spec.key}: {record.reason}"
                    return RecordResult(spec, Outcome.CONFLICT, msg, changes=tuple(done))
                pending = list(record.changes)
                if not pending:
                    log.info("%s: the zone already holds %s", spec.key, record.desired)
                continue
            pending.pop(0)
            done.append(change)
            log.info("%s", change.describe())

        if not done and not ambiguous:
            return _in_sync(record)  # someone else made it right meanwhile
        text = "; ".join(c.describe() for c in done) or (
            f"{spec.key}: now {record.desired} (the write whose answer was lost was applied)"
        )
        return RecordResult(
            spec,
            Outcome.UPDATED,
            text,
            changes=tuple(done),
            content=record.desired,
            notes=record.notes,
            expire=record.expire,
        )


def _in_sync(record: RecordPlan) -> RecordResult:
    return RecordResult(
        record.spec,
        Outcome.NOOP,
        f"{record.spec.key}: in sync ({record.desired})",
        content=record.desired,
        notes=record.notes,
        expire=record.expire,
    )


def _worth_replanning(change: Change, exc: TransipError) -> bool:
    """Does this error mean "re-read the zone and plan again" (instead of "give up")?"""
    if isinstance(exc, TransipUnavailable | TransipServerError | TransipConflict):
        return True  # lost answer / transient: the write may or may not have happened
    if isinstance(exc, TransipNotAcceptable):
        if change.kind == "update":
            return is_patch_mismatch(exc.message)
        return change.kind == "add" and is_already_exists(exc.message)
    return change.kind == "delete" and isinstance(exc, TransipNotFound)
