"""The TransIP writes of the challenge service: POST and DELETE of one TXT entry, with the
journal kept in step and the recovery rules that keep the request count low.

API economy (every request counts against TransIP's 1,000 per 15 minutes):

* add: journal first, then ``POST`` without a ``GET``. "already exists" is success;
  "must share one expire" → one ``GET`` and a second ``POST`` with the stored expire. A lost
  ``POST`` → one ``GET`` to see whether it landed, then at most one more ``POST``.
* remove: ``DELETE`` of the exact entry recorded in the journal (all four fields).
  A refused ``DELETE`` → one ``GET`` and a ``DELETE`` of the entry with that name and content.
* sweep: the same removal for each journal entry a crashed hook left (older than
  ``max_age``) and each value pending removal (deleted wherever it has landed; its entry
  stays until no POST of it can land), under the cleanup-owner lock; a rate-limit
  deferral the caller does not wait for leaves the rest for the next sweep.

Never ``PATCH``, never ``PUT``, and only values the journal says ddnsd added are removed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Protocol

from ddnsd.acme import challenge
from ddnsd.acme.journal import DEFAULT_WINDOW, Journal, JournalEntry
from ddnsd.errors import (
    ApiDeferred,
    ChallengeRefused,
    DdnsdError,
    TransipAuthError,
    TransipError,
    TransipForbidden,
    TransipNotFound,
    TransipRateLimited,
    TransipServerError,
    TransipUnavailable,
)
from ddnsd.model import DnsEntry
from ddnsd.transip.wire import (
    is_already_exists,
    is_expire_mismatch,
    is_unknown_domain,
    mentions_domain,
)

log = logging.getLogger(__name__)


#: ``pace(fqdn, call)``: run ``call`` for ``fqdn``, waiting out TransIP's rate limit
#: (the challenge service's ``Pacer``).
Pace = Callable[[str, Callable[[], bool]], bool]


class DnsClient(Protocol):
    """The part of :class:`ddnsd.transip.client.TransipClient` the challenge service uses
    (``list_domains`` through domains.py)."""

    def list_domains(self) -> list[str]: ...
    def list_dns_entries(self, domain: str) -> list[DnsEntry]: ...
    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...
    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...


def _lost(exc: TransipError) -> bool:
    """The request may or may not have been applied (no answer, or a 5xx)."""
    return isinstance(exc, (TransipUnavailable, TransipServerError))


def _fatal(exc: TransipError) -> bool:
    """Errors a re-read cannot help with: credentials, permissions, rate limit."""
    return isinstance(exc, (TransipAuthError, TransipForbidden, TransipRateLimited))


class TxtWriter:
    """Adds and removes single TXT entries at TransIP, recording them in ``journal``.

    ``window``: seconds after a POST call ended during which a POST of it that got no
    answer may still be applied (inflight.landing_window of the client's timeout).
    """

    def __init__(
        self,
        client: DnsClient,
        journal: Journal,
        window: float = DEFAULT_WINDOW,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.journal = journal
        self.window = window
        self._clock = clock

    def add(self, fqdn: str, zone: str, entry: DnsEntry) -> DnsEntry:
        """Journal, then POST ``entry``; the entry as stored (its expire may be TransIP's).

        The call holds its own lock while it may send (inflight.py), and tells the journal
        afterwards whether a POST of it is left without an answer."""
        with self.journal.locks.hold() as writer:
            post = _Post(self, zone, entry)
            post.prior = self.journal.start_post(zone, entry, fqdn, writer, self.window)
            log.info("adding %s TXT %r (%s in %s)", fqdn, entry.content, entry.name, zone)
            try:
                stored = post.run()
            except TransipError as exc:
                if exc.status == 404 and is_unknown_domain(exc.message):
                    raise ChallengeRefused(
                        f"refusing {fqdn!r}: [acme] zones lists {zone!r}, but it is not a "
                        "domain of this TransIP account; list only account domains there"
                    ) from None
                raise
            finally:
                self.journal.settle(zone, entry, writer, in_doubt=post.in_doubt)
        if stored.expire != entry.expire:
            self.journal.set_expire(zone, entry, stored.expire)
        return stored

    def remove_all(
        self,
        records: Sequence[JournalEntry],
        *,
        each: Callable[[Callable[[], bool]], object] = lambda call: call(),
    ) -> None:
        """:meth:`remove` each record (through ``each``, e.g. one that waits for the rate
        limit); the first error is raised once all were tried."""
        first: DdnsdError | None = None
        for record in records:
            try:
                each(partial(self.remove, record))
            except DdnsdError as exc:
                log.error("%s", exc)
                first = first or exc
        if first is not None:
            raise first

    def sweep(
        self,
        max_age: float,
        removed: Callable[[JournalEntry], None],
        *,
        pace: Pace | None = None,
    ) -> int:
        """Remove journal entries older than ``max_age`` and values pending removal; how
        many values were deleted at TransIP (``removed`` is told of each).

        Each zone the sweep touches is read once (one GET), and only the values found in it
        are deleted: a value pending removal that has not landed costs nothing more, so a
        journal of many such values does not spend the request budget at every run. An
        entry stays pending until no POST of it can land. ``pace(fqdn, call)`` runs each
        removal (the challenge's wait for the rate limit); a deferral that escapes it
        leaves the rest for the next sweep.

        Runs under the cleanup-owner lock: when another process holds it (it is sweeping,
        or it claimed the job for good), this returns 0 at once.
        """
        with self.journal.cleanup_owner() as owner:
            if not owner:
                log.debug("another ddnsd process owns the ACME journal cleanup")
                return 0
            count = 0
            zones: dict[str, list[DnsEntry]] = {}  # each zone as this sweep read it
            for record in self.journal.sweepable(max_age):
                log.info(
                    "removing %s ACME entry %s TXT %r (added %.0f s ago)",
                    "pending" if record.pending_removal else "stale",
                    record.fqdn,
                    record.content,
                    self._clock() - record.created,
                )
                call = partial(self._sweep_one, record, zones)
                try:
                    deleted = call() if pace is None else pace(record.fqdn, call)
                except ApiDeferred as exc:
                    log.info("stale ACME entries wait for TransIP's rate limit: %s", exc)
                    break
                except DdnsdError as exc:
                    log.warning(
                        "could not remove stale %s TXT %r: %s", record.fqdn, record.content, exc
                    )
                else:
                    if deleted:
                        count += 1
                        removed(record)
            return count

    def remove(self, record: JournalEntry) -> bool:
        """DELETE the journal's exact entry; on refusal GET once and delete by name + content.

        True when a value was deleted at TransIP (False: it was not there)."""
        zone, entry = record.domain, record.entry
        log.info("removing %s TXT %r (%s in %s)", record.fqdn, entry.content, entry.name, zone)
        deleted = True
        try:
            self.client.delete_dns_entry(zone, entry)
        except TransipNotFound as exc:
            if mentions_domain(exc.message):  # the whole domain is gone
                self.journal.remove(zone, entry)
                return False
            deleted = self._remove_by_content(record, exc)
        except TransipError as exc:
            if _fatal(exc):
                raise
            deleted = self._remove_by_content(record, exc)
        self._finish(record)
        return deleted

    def _sweep_one(self, record: JournalEntry, zones: dict[str, list[DnsEntry]]) -> bool:
        """The sweep's removal: delete ``record``'s value where its zone (read once per sweep,
        into ``zones``) holds it, then :meth:`_finish`. True when a value was deleted."""
        zone, entry = record.domain, record.entry
        if zone not in zones:
            try:
                zones[zone] = self.client.list_dns_entries(zone)
            except TransipNotFound as exc:
                if not mentions_domain(exc.message):
                    raise
                self.journal.remove(zone, entry)  # the whole domain is gone
                return False
        deleted = self._delete_each(zone, challenge.same_value(zones[zone], entry))
        self._finish(record)
        return deleted

    def _finish(self, record: JournalEntry) -> None:
        """The value is gone: the journal forgets it, or keeps it pending removal while a
        POST of it may still land (said once, when it becomes pending)."""
        kept = self.journal.finish_removal(record.domain, record.entry)
        if kept is not None and not record.pending_removal:
            log.warning(
                "%s TXT %r is gone for now, but a POST of it that got no answer may still "
                "land; it stays in the journal as pending removal, and the next run that "
                "sweeps (a hook, once, the daemon) deletes it should it land",
                record.fqdn,
                record.content,
            )

    def _remove_by_content(self, record: JournalEntry, exc: TransipError) -> bool:
        zone, entry = record.domain, record.entry
        matches = challenge.same_value(self.client.list_dns_entries(zone), entry)
        if not matches:
            log.info("%s %s TXT %r is already gone", zone, entry.name, entry.content)
            return False
        log.info("%s: %s; deleting the stored entry %s", zone, exc, matches[0].describe())
        return self._delete_each(zone, matches)

    def _delete_each(self, zone: str, matches: Sequence[DnsEntry]) -> bool:
        """DELETE each of ``matches`` (exact stored entries); True when one was deleted (one
        already gone is no error)."""
        deleted = False
        for match in matches:
            try:
                self.client.delete_dns_entry(zone, match)
            except TransipNotFound:
                continue
            deleted = True
        return deleted


class _Post:
    """One add: the POST and its recovery (a GET, at most one more POST).

    ``prior``: an earlier POST of the value was still in doubt; ``unanswered``: a POST got
    no answer and was not seen since; ``sending``: a POST is on its way (stays True when
    something other than a TransIP error ends the call)."""

    def __init__(self, writer: TxtWriter, zone: str, entry: DnsEntry) -> None:
        self.client = writer.client
        self.journal = writer.journal
        self.zone = zone
        self.entry = entry
        self.prior = self.unanswered = self.sending = False

    @property
    def in_doubt(self) -> bool:
        """A POST of the value may still be applied later."""
        return self.prior or self.unanswered or self.sending

    def send(self, entry: DnsEntry) -> None:
        self.sending = True
        try:
            self.client.add_dns_entry(self.zone, entry)
        except TransipError as exc:
            self.unanswered = self.unanswered or _lost(exc)
            self.sending = False
            raise
        self.sending = False

    def run(self) -> DnsEntry:
        zone, entry = self.zone, self.entry
        try:
            self.send(entry)
            return entry
        except TransipError as exc:
            if is_already_exists(exc.message):
                log.info("%s %s TXT %r was already there", zone, entry.name, entry.content)
                return entry
            if _fatal(exc) or not (is_expire_mismatch(exc.message) or _lost(exc)):
                self.forget()  # refused: certainly not added
                raise
            first = exc
        # One GET: did a lost POST land, and which expire does the name use?
        try:
            current = self.client.list_dns_entries(zone)
        except TransipError:
            self.forget()  # unless a lost POST may land: then the journal keeps it
            raise
        found = challenge.find_value(current, entry)
        if found is not None:
            self.unanswered = False  # it landed: a request is applied once at most
            return found
        retry = replace(entry, expire=challenge.stored_expire(current, entry))
        if retry.expire != entry.expire:
            log.info(
                "%s %s TXT already uses expire %d; adding with that expire",
                zone,
                entry.name,
                retry.expire,
            )
            self.journal.set_expire(zone, entry, retry.expire)
        else:
            log.info("%s: %s; adding %s TXT again", zone, first, entry.name)
        try:
            self.send(retry)
        except TransipError as exc:
            if not is_already_exists(exc.message):
                self.forget()  # absent at the GET and refused now, unless a POST may land
                raise
        return retry

    def forget(self) -> None:
        """Drop the journal entry: no POST of it can have been applied."""
        if not self.in_doubt:
            self.journal.remove(self.zone, self.entry)
