"""The ACME DNS-01 challenge service: add a TXT value, wait until it is served, remove it.

Every front door (lego exec, certbot and dehydrated hooks, the HTTP API) ends here.
A name is normalised and checked, resolved to its zone (resolve.py, with the account's
domain list from ``state_dir/domains.json``, domains.py), written or removed (writer.py:
POST/DELETE and their recovery rules, journal first), then polled on every authoritative
nameserver (propagation.py).

``present`` costs one ``POST`` without a ``GET``; ``cleanup`` one ``DELETE`` of the exact
entry in the journal: apex + wildcard costs 2 ``POST`` + 2 ``DELETE``. Never ``PATCH``,
never ``PUT``, and only values the journal says ddnsd added are ever removed.

Requests are ACME's in the request budget (the client is its "acme" view: the reserve DDNS
leaves is theirs). When TransIP's rate limit makes a request wait (``ApiDeferred``: the
budget is spent, or a 429 silenced the login), a challenge waits for it if that ends
within ``propagation_timeout`` (nothing is sent meanwhile) and fails with the deferral's
sentence otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from ddnsd import authdns
from ddnsd.acme import challenge
from ddnsd.acme.domains import AccountDomains
from ddnsd.acme.journal import DEFAULT_WINDOW, Journal
from ddnsd.acme.propagation import QueryFn, wait_for_txt
from ddnsd.acme.resolve import ZoneResolver
from ddnsd.acme.writer import DnsClient, TxtWriter
from ddnsd.errors import ApiDeferred, DdnsdError
from ddnsd.model import DnsEntry
from ddnsd.observe.events import EventSink, event
from ddnsd.statedir import StateDir

log = logging.getLogger(__name__)

TXT = "TXT"
T = TypeVar("T")

#: acme-dns ``/update``: values kept per name at most (each younger than ``max_age``).
ACMEDNS_KEEP = 16


class Pacer:
    """``pacer(fqdn, call)``: ``call()``; when TransIP's rate limit makes it wait and the
    wait ends within ``limit`` seconds (the propagation timeout), wait (sending nothing),
    then call again; a longer wait raises the deferral."""

    def __init__(
        self, limit: float, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep

    def __call__(self, fqdn: str, call: Callable[[], T]) -> T:
        while True:
            try:
                return call()
            except ApiDeferred as exc:
                wait = exc.until - self._clock()
                if wait > self.limit:
                    raise
                log.warning(
                    "%s: waiting %.0f s for TransIP's rate limit (%s)", fqdn, max(wait, 0), exc
                )
                self._sleep(max(wait, 0.0))


class ChallengeService:
    """Adds and removes ACME DNS-01 TXT values at TransIP for one account.

    ``zones``: where challenges may be written (default: every domain of the account).
    ``nameservers``: ask these instead of the zone's NS for propagation and CNAMEs.
    ``propagation_timeout`` 0 skips the propagation check. ``write_window``: how long after
    a POST call a POST that got no answer may still land (inflight.landing_window of the
    client's timeout). Times are seconds.
    ``events`` receives a ``challenge_*`` event for each value added, served, removed or
    failed (the reporter's sink). ``query``/``sleep``/``clock``/``monotonic`` exist for tests.
    """

    def __init__(
        self,
        client: DnsClient,
        *,
        state: StateDir,
        zones: list[str] | None = None,
        nameservers: list[str] | None = None,
        propagation_timeout: float = 600,
        poll_interval: float = 1.0,
        max_age: float = 3600,
        cname_follow: bool = False,
        expire: int = 60,
        domains_cache_ttl: float = 86400,
        events: EventSink | None = None,
        write_window: float = DEFAULT_WINDOW,
        query: QueryFn = authdns.query,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.state = state
        self.propagation_timeout = propagation_timeout
        self.poll_interval = poll_interval
        self.max_age = max_age
        self.expire = expire
        self.journal = Journal(state, clock=clock)
        self.writer = TxtWriter(client, self.journal, write_window, clock=clock)
        self.account = AccountDomains(
            client, state, zones=zones, ttl=domains_cache_ttl, clock=clock
        )
        self.resolver = ZoneResolver(
            self.account, nameservers=nameservers, cname_follow=cname_follow, query=query
        )
        self._paced = Pacer(propagation_timeout, clock, sleep)
        self._events = events
        self._query = query
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic

    def _emit(self, kind: str, **fields: object) -> None:
        if self._events is not None:
            self._events(event(kind, self._clock(), **fields))

    def _failed(self, action: str, names: Sequence[str], exc: DdnsdError) -> None:
        self._emit("challenge_failed", name=", ".join(names), action=action, message=str(exc))

    def _prepare(self, fqdn: str, value: str) -> tuple[str, str]:
        name = challenge.normalize_name(fqdn)
        text = challenge.check_value(value)
        self._paced(name, partial(self.resolver.check_allowed, name))  # may ask GET /domains
        return name, text

    # -- present ----------------------------------------------------------------------

    def present(self, fqdn: str, value: str) -> None:
        """Add TXT ``value`` at ``fqdn``; return once every authoritative nameserver serves it."""
        self.present_all([(fqdn, value)])

    def present_all(self, items: Sequence[tuple[str, str]], *, wait: bool = True) -> None:
        """Add several values, then wait for all of them (dehydrated's HOOK_CHAIN=yes).

        ``wait=False`` returns once TransIP accepted them (for clients that check
        propagation themselves)."""
        waits: list[tuple[str, str, str]] = []
        try:
            for fqdn, value in items:
                name, text = self._prepare(fqdn, value)
                target, zone, rel = self._paced(name, partial(self.resolver.resolve, name))
                entry = DnsEntry(rel, self.expire, TXT, text)
                self._paced(name, partial(self.writer.add, name, zone, entry))
                self._emit("challenge_added", name=name, zone=zone)
                waits.append((target, zone, text))
            for target, zone, text in waits if wait else []:
                self.wait(target, zone, text)
        except DdnsdError as exc:
            self._failed("present", [fqdn for fqdn, _ in items], exc)
            raise

    def wait_journal(self, fqdns: Sequence[str]) -> None:
        """Wait until every nameserver serves every value the journal holds at ``fqdns``.

        certbot runs all auth hooks before it validates; only the last one needs to wait,
        for the values the earlier ones added (they are in the journal).
        """
        names = {challenge.normalize_name(f) for f in fqdns}
        # One certificate's hooks run back to back: an older value (say one removed from
        # the zone by hand) is not part of this run and must not stall it.
        since = self._clock() - max(self.propagation_timeout, 60.0)
        try:
            for e in self.journal.entries():
                if (
                    e.fqdn in names
                    and e.type == TXT
                    and e.created >= since
                    and not e.pending_removal
                ):
                    target, zone, _ = self._paced(e.fqdn, partial(self.resolver.resolve, e.fqdn))
                    self.wait(target, zone, e.content)
        except DdnsdError as exc:
            self._failed("present", sorted(names), exc)
            raise

    def wait(self, fqdn: str, zone: str, value: str) -> None:
        """Wait until every nameserver of ``zone`` serves TXT ``value`` at ``fqdn``."""
        if self.propagation_timeout <= 0:
            return
        servers = self.resolver.servers(zone)
        served: dict[str, float] = {}
        took = wait_for_txt(
            fqdn,
            value,
            servers,
            timeout=self.propagation_timeout,
            interval=self.poll_interval,
            query=self._query,
            sleep=self._sleep,
            clock=self._monotonic,
            served_after=served,
        )
        log.info("%s TXT is served by all %d nameservers (%.1f s)", fqdn, len(servers), took)
        self._emit("challenge_served", name=fqdn, seconds=round(took, 3), nameservers=served)

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
        try:
            self.writer.remove_all(records, each=lambda call: self._paced(name, call))
        except DdnsdError as exc:
            self._failed("cleanup", [name], exc)
            raise
        self._emit("challenge_removed", name=name, stale=False)

    # -- crash safety -----------------------------------------------------------------

    def cleanup_stale(self, *, wait: bool = False) -> int:
        """Remove journal entries older than ``max_age`` and values pending removal
        (:meth:`TxtWriter.sweep`); how many values were deleted at TransIP.

        ``wait``: a rate-limit deferral is waited for like any request of a challenge (a
        hook's sweep); without it the rest is left for the next sweep (the daemon's)."""
        return self.writer.sweep(
            self.max_age,
            lambda record: self._emit("challenge_removed", name=record.fqdn, stale=True),
            pace=self._paced if wait else None,
        )

    # -- acme-dns /update ---------------------------------------------------------------

    def update_keep_newest(self, fqdn: str, value: str, keep: int = ACMEDNS_KEEP) -> None:
        """acme-dns ``/update``: add ``value``; every value at the name stays until the
        sweep removes it at ``max_age``, except that at most ``keep`` are kept (the oldest
        goes first). acme-dns itself keeps two, which fails a certificate whose third
        challenge for one name is in flight (cert-manager #3610).

        Like acme-dns it answers once the value is stored, without waiting for the
        nameservers: its callers (cert-manager) check propagation themselves and give up
        on a request after 30 s."""
        name, text = self._prepare(fqdn, value)
        self.present_all([(name, text)], wait=False)
        at_name = sorted(
            (
                e
                for e in self.journal.entries()
                if e.fqdn == name and e.type == TXT and not e.pending_removal
            ),
            key=lambda e: e.created,
            reverse=True,
        )
        newest = [e for e in at_name if e.content == text]
        others = [e for e in at_name if e.content != text]
        surplus = (newest + others)[max(keep, 1) :]
        if surplus:
            self.writer.remove_all(surplus, each=lambda call: self._paced(name, call))
            self._emit("challenge_removed", name=name, stale=False)


def sweep_journal(state: StateDir, service: Callable[[], ChallengeService]) -> None:
    """The sweep of a process that is not a hook (the daemon, ``once``): when the journal in
    ``state`` holds entries, :meth:`ChallengeService.cleanup_stale` on ``service()``
    (built only then); a failure or a rate-limit deferral is logged and left for the next
    sweep."""
    try:
        if not Journal(state).entries():
            return
        removed = service().cleanup_stale()
    except DdnsdError as exc:
        log.warning("stale ACME entries not removed yet: %s", exc)
        return
    if removed:
        log.info("removed %d stale ACME challenge entr%s", removed, "y" if removed == 1 else "ies")
