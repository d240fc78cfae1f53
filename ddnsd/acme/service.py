"""The ACME DNS-01 challenge service: add a TXT value, wait until it is served, remove it.

Every front door (lego exec, certbot and dehydrated hooks, the HTTP API) ends here.

API economy (every request counts against TransIP's 1,000 per 15 minutes):

* ``present``: journal first, then ``POST`` without a ``GET`` (the domain list comes from
  ``state_dir/domains.json``). "already exists" is success; "must share one expire"
  → one ``GET`` and a second ``POST`` with the stored expire. A lost ``POST`` → one ``GET``
  to see whether it landed, then at most one more ``POST``.
* ``cleanup``: ``DELETE`` of the exact entry recorded in the journal (all four fields).
  A refused ``DELETE`` → one ``GET`` and a ``DELETE`` of the entry with that name and content.

Apex + wildcard therefore costs 2 ``POST`` + 2 ``DELETE``. Never ``PATCH``, never ``PUT``,
and only values the journal says ddnsd added are ever removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from ddnsd import authdns
from ddnsd.acme import challenge
from ddnsd.acme.journal import Journal, JournalEntry
from ddnsd.acme.propagation import QueryFn, wait_for_txt
from ddnsd.authdns import Nameserver
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

log = logging.getLogger("ddnsd.acme.service")

DOMAINS_FILE = "domains.json"
CNAME_MAX_HOPS = 5
DOMAINS_REFRESH_MIN = 60.0  # seconds between two refreshes of the domain list
TXT = "TXT"


class DnsClient(Protocol):
    """The part of :class:`ddnsd.transip.client.TransipClient` the service uses."""

    def list_domains(self) -> list[str]: ...
    def list_dns_entries(self, domain: str) -> list[DnsEntry]: ...
    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...
    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...


def is_already_exists(exc: TransipError) -> bool:
    """TransIP refused a POST because the identical entry is already there."""
    return "already exist" in exc.message.lower()


def is_expire_mismatch(exc: TransipError) -> bool:
    """TransIP refused a POST because entries with that name and type use another expire."""
    text = exc.message.lower()
    return "expire" in text and any(w in text for w in ("share", "same", "mismatch", "differ"))


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
        self.zones = [challenge.normalize_name(z) for z in zones] if zones is not None else None
        self.nameservers = list(nameservers) if nameservers else None
        self.propagation_timeout = propagation_timeout
        self.poll_interval = poll_interval
        self.max_age = max_age
        self.cname_follow = cname_follow
        self.expire = expire
        self.domains_cache_ttl = domains_cache_ttl
        self.journal = Journal(self.state_dir, clock=clock)
        self._query = query
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._domains: list[str] | None = None
        self._domains_at = 0.0  # wall clock of the list's fetch
        self._fetched_at = float("-inf")  # wall clock of this service's own last fetch
        self._servers: dict[str, list[Nameserver]] = {}
        self._lock = threading.Lock()

    # -- the account's domains (cached in state_dir/domains.json) ---------------------

    @property
    def domains_path(self) -> Path:
        return self.state_dir / DOMAINS_FILE

    def domains(self, *, refresh: bool = False) -> list[str]:
        """The account's domain names, from memory, the state-dir cache, or the API.

        ``refresh`` asks the API unless this service asked it less than a minute ago
        (a name outside every domain must not cost a request each time).
        """
        with self._lock:
            now = self._clock()
            if not refresh:
                if self._domains is not None and now - self._domains_at < self.domains_cache_ttl:
                    return list(self._domains)
                cached = self._read_domains_cache()
                if cached is not None:
                    self._domains, self._domains_at = cached
                    return list(self._domains)
            elif self._domains is not None and now - self._fetched_at < DOMAINS_REFRESH_MIN:
                return list(self._domains)
            fetched = sorted({challenge.normalize_name(d) for d in self.client.list_domains()})
            self._domains, self._domains_at, self._fetched_at = fetched, now, now
            self._write_domains_cache(fetched, now)
            return list(fetched)

    def _read_domains_cache(self) -> tuple[list[str], float] | None:
        try:
            data = json.loads(self.domains_path.read_text(encoding="utf-8"))
            fetched = float(data["fetched"])
            domains = [str(d) for d in data["domains"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        age = self._clock() - fetched
        if age < 0 or age >= self.domains_cache_ttl:
            return None
        return domains, fetched

    def _write_domains_cache(self, domains: list[str], fetched: float) -> None:
        tmp = self.domains_path.with_name(f".{DOMAINS_FILE}.{os.getpid()}.tmp")
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp.write_text(
                json.dumps({"fetched": fetched, "domains": domains}) + "\n",
                encoding="utf-8",
            )
            os.replace(tmp, self.domains_path)
        except OSError as exc:  # a cache: failing to write it costs requests, nothing else
            log.warning("cannot write %s (%s); the domain list is not cached", tmp, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()

    def allowed_zones(self) -> list[str]:
        return list(self.zones) if self.zones is not None else self.domains()

    def _zone_of(self, fqdn: str) -> tuple[str, str] | None:
        """(account domain, relative name) for ``fqdn``; refreshes a stale list once on a miss.

        Configured ``zones`` are TransIP domains of the account, so a name inside one needs
        no domain list (saves the ``GET /domains`` of a cold start).
        """
        if self.zones is not None:
            zone = challenge.longest_suffix(fqdn, self.zones)
            if zone is not None:
                return zone, challenge.relative_name(fqdn, zone)
        zone = challenge.longest_suffix(fqdn, self.domains())
        if zone is None:
            zone = challenge.longest_suffix(fqdn, self.domains(refresh=True))
        return None if zone is None else (zone, challenge.relative_name(fqdn, zone))

    def _check_allowed(self, fqdn: str) -> None:
        if not fqdn.startswith(challenge.ACME_PREFIX):
            challenge.check_allowed(fqdn, [])  # raises the "_acme-challenge." refusal
        if self.zones is not None:
            challenge.check_allowed(fqdn, self.zones)
            return
        try:
            challenge.check_allowed(fqdn, self.domains())
        except ChallengeRefused:
            challenge.check_allowed(fqdn, self.domains(refresh=True))

    # -- where a name is written ------------------------------------------------------

    def servers(self, zone: str) -> list[Nameserver]:
        """The nameservers polled for ``zone`` (discovered once per service)."""
        if zone not in self._servers:
            self._servers[zone] = authdns.authoritative_servers(zone, self.nameservers)
        return self._servers[zone]

    def _cname_target(self, name: str) -> str | None:
        zone = challenge.longest_suffix(name, self.domains())
        if zone is not None or self.nameservers:
            servers = self.servers(zone or "")
        else:  # a delegating name outside the account: find its zone's nameservers
            servers = []
            for candidate in challenge.suffixes(name)[1:]:
                try:
                    servers = self.servers(candidate)
                    break
                except DdnsdError:
                    continue
        for server in servers:
            try:
                targets = self._query(server, name, "CNAME")
            except DdnsdError as exc:
                log.warning("%s", exc)
                continue
            return challenge.normalize_name(targets[0]) if targets else None
        raise DdnsdError(
            f"cannot look up the CNAME of {name}: no nameserver answered; "
            "set [dns] nameservers or turn acme.cname_follow off"
        )

    def resolve(self, fqdn: str) -> tuple[str, str, str]:
        """``(name written, zone, relative name)`` for a requested, allowed ``fqdn``.

        With ``cname_follow``, CNAMEs are followed (at most CNAME_MAX_HOPS) as long as the
        target lies inside the allowed zones and an account domain.
        """
        target = fqdn
        if self.cname_follow:
            seen = {fqdn}
            for _ in range(CNAME_MAX_HOPS):
                nxt = self._cname_target(target)
                if nxt is None:
                    break
                if nxt in seen:
                    raise ChallengeRefused(f"refusing {fqdn!r}: its CNAME chain loops at {nxt!r}")
                allowed = self.allowed_zones()
                if challenge.longest_suffix(nxt, allowed) is None:
                    raise ChallengeRefused(
                        f"refusing {fqdn!r}: it is a CNAME to {nxt!r}, outside the allowed "
                        f"zones ({', '.join(allowed) or 'none'}); add its domain to [acme] zones"
                    )
                log.info("%s is a CNAME to %s; writing there", target, nxt)
                seen.add(nxt)
                target = nxt
            else:
                raise ChallengeRefused(
                    f"refusing {fqdn!r}: more than {CNAME_MAX_HOPS} CNAMEs in a row"
                )
        found = self._zone_of(target)
        if found is None:
            found = challenge.find_zone(target, self.domains())  # raises the refusal
        zone, name = found
        return target, zone, name

    def _prepare(self, fqdn: str, value: str) -> tuple[str, str]:
        name = challenge.normalize_name(fqdn)
        self._check_allowed(name)
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
            target, zone, rel = self.resolve(name)
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
                target, zone, _ = self.resolve(e.fqdn)
                self.wait(target, zone, e.content)

    def wait(self, fqdn: str, zone: str, value: str) -> None:
        """Wait until every nameserver of ``zone`` serves TXT ``value`` at ``fqdn``."""
        if self.propagation_timeout <= 0:
            return
        servers = self.servers(zone)
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
            if exc.status == 404 and "domain with name" in exc.message.lower():
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
            if is_already_exists(exc):
                log.info("%s %s TXT %r was already there", zone, entry.name, entry.content)
                return entry
            if _fatal(exc) or not (is_expire_mismatch(exc) or _lost(exc)):
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
        found = self._find(current, entry)
        if found is not None:
            return found
        retry = replace(entry, expire=self._stored_expire(current, entry))
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
            if not is_already_exists(exc):
                if not _lost(exc):  # the GET showed it absent and this POST was refused
                    self.journal.remove(zone, entry)
                raise
        return retry

    @staticmethod
    def _find(entries: list[DnsEntry], entry: DnsEntry) -> DnsEntry | None:
        for e in entries:
            if e.name == entry.name and e.type == entry.type and e.content == entry.content:
                return e
        return None

    @staticmethod
    def _stored_expire(entries: list[DnsEntry], entry: DnsEntry) -> int:
        for e in entries:
            if e.name == entry.name and e.type == entry.type:
                return e.expire
        return entry.expire

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
            if "domain" in exc.message.lower():  # the whole domain is gone
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
        matches = [
            e
            for e in self.client.list_dns_entries(zone)
            if e.name == entry.name and e.type == entry.type and e.content == entry.content
        ]
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
