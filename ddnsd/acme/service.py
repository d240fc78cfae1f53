"""The ACME DNS-01 challenge service: add a TXT value, wait until it is served, remove it.

Every front door (lego exec, certbot and dehydrated hooks, the HTTP API) ends here.

API economy (every request counts against TransIP's 1,000 per 15 minutes):

* ``present``: journal first, then ``POST`` without a ``GET`` (the domain list comes from
  ``state_dir/domains.json``, domains.py). "already exists" is success; "must share one expire"
  → one ``GET`` and a second ``POST`` with the stored expire. A lost ``POST`` → one ``GET``
  to see whether it landed, then at most one more ``POST``.
* ``cleanup``: ``DELETE`` of the exact entry recorded in the journal (all four fields).
  A refused ``DELETE`` → one ``GET`` and a ``DELETE`` of the entry with that name and content.

Apex + wildcard therefore costs 2 ``POST`` + 2 ``DELETE``. Never ``PATCH``, never ``PUT``,
and only values the journal says ddnsd added are ever removed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from ddnsd import authdns
from ddnsd.acme import challenge
from ddnsd.acme.domains import AccountDomains
from ddnsd.acme.journal import Journal, JournalEntry
from ddnsd.acme.propagation import QueryFn, wait_for_txt
from ddnsd.acme.resolve import ZoneResolver
from ddnsd.errors import (
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

TXT = "TXT"


class DnsClient(Protocol):
    """The part of :class:`ddnsd.transip.client.TransipClient` the service uses."""

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


class ChallengeService:
    """Adds and removes ACME DNS-01 TXT values at TransIP for one account.

    ``zones``: where challenges may be written (default: every domain of the account).
    ``nameservers``: ask these instead of the zone's NS for propagation and CNAMEs.
    ``propagation_timeout`` 0 skips the propagation check. Times are seconds.
    ``query``/``sleep``/``clock``/``monotonic`` exist for tests.
    """

    def __init__(
        self,
        client: DnsClient,
        *,
        state_dir: Path,
        zones: list[str] | None = None,
        nameservers: list[str] | None = None,
        propagation_timeout: float = 600,
        poll_interval: float = 1.0,
        max_age: float = 3600,
        cname_follow: bool = False,
        expire: int = 60,
        domains_cache_ttl: float = 86400,
        query: QueryFn = authdns.query,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.state_dir = Path(state_dir)
        self.propagation_timeout = propagation_timeout
        self.poll_interval = poll_interval
        self.max_age = max_age
        self.expire = expire
        self.journal = Journal(self.state_dir, clock=clock)
        self.account = AccountDomains(
            client, self.state_dir, zones=zones, ttl=domains_cache_ttl, clock=clock
        )
        self.resolver = ZoneResolver(
            self.account, nameservers=nameservers, cname_follow=cname_follow, query=query
        )
        self._query = query
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic

    def _prepare(self, fqdn: str, value: str) -> tuple[str, str]:
        name = challenge.normalize_name(fqdn)
        self.resolver.check_allowed(name)
        return name, challenge.check_value(value)

    # -- present ----------------------------------------------------------------------

    def present(self, fqdn: str, value: str) -> None:
        """Add TXT ``value`` at ``fqdn``; return once every authoritative nameserver serves it."""
        self.present_all([(fqdn, value)])

    def present_all(self, items: Sequence[tuple[str, str]], *, wait: bool = True) -> None:
        """Add several values, then wait for all of them (dehydrated's HOOK_CHAIN=yes).

        ``wait=False`` returns once TransIP accepted them (for clients that check
        propagation themselves)."""
        waits: list[tuple[str, str, str]] = []
        for fqdn, value in items:
            name, text = self._prepare(fqdn, value)
            target, zone, rel = self.resolver.resolve(name)
            self._add(name, zone, DnsEntry(rel, self.expire, TXT, text))
            waits.append((target, zone, text))
        for target, zone, text in waits if wait else []:
            self.wait(target, zone, text)

    def wait_journal(self, fqdns: Sequence[str]) -> None:
        """Wait until every nameserver serves every value the journal holds at ``fqdns``.

        certbot runs all auth hooks before it validates; only the last one needs to wait,
        for the values the earlier ones added (they are in the journal).
        """
        names = {challenge.normalize_name(f) for f in fqdns}
        # One certificate's hooks run back to back: an older value (say one removed from
        # the zone by hand) is not part of this run and must not stall it.
        since = self._clock() - max(self.propagation_timeout, 60.0)
        for e in self.journal.entries():
            if e.fqdn in names and e.type == TXT and e.created >= since:
                target, zone, _ = self.resolver.resolve(e.fqdn)
                self.wait(target, zone, e.content)

    def wait(self, fqdn: str, zone: str, value: str) -> None:
        """Wait until every nameserver of ``zone`` serves TXT ``value`` at ``fqdn``."""
        if self.propagation_timeout <= 0:
            return
        servers = self.resolver.servers(zone)
        took = wait_for_txt(
            fqdn,
            value,
            servers,
            timeout=self.propagation_timeout,
            interval=self.poll_interval,
            query=self._query,
            sleep=self._sleep,
            clock=self._monotonic,
        )
        log.info("%s TXT is served by all %d nameservers (%.1f s)", fqdn, len(servers), took)

    def _add(self, fqdn: str, zone: str, entry: DnsEntry) -> DnsEntry:
        """Journal, then POST ``entry``; the entry as stored (its expire may be TransIP's)."""
        self.journal.add(zone, entry, fqdn)
        log.info("adding %s TXT %r (%s in %s)", fqdn, entry.content, entry.name, zone)
        try:
            stored = self._post(zone, entry)
        except TransipError as exc:
            if exc.status == 404 and is_unknown_domain(exc.message):
                raise ChallengeRefused(
                    f"refusing {fqdn!r}: [acme] zones lists {zone!r}, but it is not a domain "
                    "of this TransIP account; list only account domains there"
                ) from None
            raise
        if stored.expire != entry.expire:
            self.journal.set_expire(zone, entry, stored.expire)
        return stored

    def _post(self, zone: str, entry: DnsEntry) -> DnsEntry:
        try:
            self.client.add_dns_entry(zone, entry)
            return entry
        except TransipError as exc:
            if is_already_exists(exc.message):
                log.info("%s %s TXT %r was already there", zone, entry.name, entry.content)
                return entry
            if _fatal(exc) or not (is_expire_mismatch(exc.message) or _lost(exc)):
                self.journal.remove(zone, entry)  # refused: certainly not added
                raise
            first = exc
        # One GET: did a lost POST land, and which expire does the name use?
        try:
            current = self.client.list_dns_entries(zone)
        except TransipError:
            if not _lost(first):  # a lost POST may have landed: keep its journal record
                self.journal.remove(zone, entry)
            raise
        found = challenge.find_value(current, entry)
        if found is not None:
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
            self.client.add_dns_entry(zone, retry)
        except TransipError as exc:
            if not is_already_exists(exc.message):
                if not _lost(exc):  # the GET showed it absent and this POST was refused
                    self.journal.remove(zone, entry)
                raise
        return retry

    # -- cleanup ----------------------------------------------------------------------

    def cleanup(self, fqdn: str, value: str) -> None:
        """Remove TXT ``value`` at ``fqdn`` if ddnsd added it (per the journal)."""
        name, text = self._prepare(fqdn, value)
        records = [e for e in self.journal.entries() if e.fqdn == name and e.content == text]
        if not records:
            log.info(
                "nothing to remove for %s TXT %r: ddnsd's journal has no such value", name, text
            )
            return
        self._remove_all(records)

    def _remove_all(self, records: Sequence[JournalEntry]) -> None:
        first: DdnsdError | None = None
        for record in records:
            try:
                self._remove(record)
            except DdnsdError as exc:
                log.error("%s", exc)
                first = first or exc
        if first is not None:
            raise first

    def _remove(self, record: JournalEntry) -> None:
        """DELETE the journal's exact entry; on refusal GET once and delete by name + content."""
        zone, entry = record.domain, record.entry
        log.info("removing %s TXT %r (%s in %s)", record.fqdn, entry.content, entry.name, zone)
        try:
            self.client.delete_dns_entry(zone, entry)
        except TransipNotFound as exc:
            if mentions_domain(exc.message):  # the whole domain is gone
                self.journal.remove(zone, entry)
                return
            self._remove_by_content(record, exc)
        except TransipError as exc:
            if _fatal(exc):
                raise
            self._remove_by_content(record, exc)
        self.journal.remove(zone, entry)

    def _remove_by_content(self, record: JournalEntry, exc: TransipError) -> None:
        zone, entry = record.domain, record.entry
        matches = challenge.same_value(self.client.list_dns_entries(zone), entry)
        if not matches:
            log.info("%s %s TXT %r is already gone", zone, entry.name, entry.content)
            return
        log.info("%s: %s; deleting the stored entry %s", zone, exc, matches[0].describe())
        for match in matches:
            try:
                self.client.delete_dns_entry(zone, match)
            except TransipNotFound:
                continue

    # -- crash safety -----------------------------------------------------------------

    def cleanup_stale(self) -> int:
        """Remove journal entries older than ``max_age``; how many were removed.

        Runs under the cleanup-owner lock: when another process holds it (it is sweeping,
        or it claimed the job for good), this returns 0 at once.
        """
        with self.journal.cleanup_owner() as owner:
            if not owner:
                log.debug("another ddnsd process owns the ACME journal cleanup")
                return 0
            removed = 0
            for record in self.journal.stale(self.max_age):
                log.info(
                    "removing stale ACME entry %s TXT %r (added %.0f s ago)",
                    record.fqdn,
                    record.content,
                    self._clock() - record.created,
                )
                try:
                    self._remove(record)
                    removed += 1
                except DdnsdError as exc:
                    log.warning(
                        "could not remove stale %s TXT %r: %s", record.fqdn, record.content, exc
                    )
            return removed

    # -- acme-dns /update ---------------------------------------------------------------

    def update_keep_newest(self, fqdn: str, value: str, keep: int = 2) -> None:
        """acme-dns semantics: add ``value``, then delete older journalled values at the
        same name beyond the ``keep`` newest.

        Like acme-dns it answers once the value is stored, without waiting for the
        nameservers: its callers (cert-manager) check propagation themselves and give up
        on a request after 30 s."""
        name, text = self._prepare(fqdn, value)
        self.present_all([(name, text)], wait=False)
        at_name = sorted(
            (e for e in self.journal.entries() if e.fqdn == name and e.type == TXT),
            key=lambda e: e.created,
            reverse=True,
        )
        newest = [e for e in at_name if e.content == text]
        others = [e for e in at_name if e.content != text]
        surplus = (newest + others)[max(keep, 1) :]
        if surplus:
            self._remove_all(surplus)
