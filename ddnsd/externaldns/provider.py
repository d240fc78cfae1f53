"""What the webhook API does: the domain filter, the records, adjusting and applying.

Applying a plan writes single entries only: ``DELETE`` for what goes, ``PATCH`` where one
entry of a name, type and TTL becomes another, ``POST`` for what comes; never ``PUT``.
It is idempotent against the zone's view: an entry already there is not posted again,
one already gone is not deleted (a ``DELETE`` answering 404 counts as done), so the plan
external-dns retries after a partial failure converges without duplicates. An RRset
whose TTL changes is deleted and re-added (a ``PATCH`` matches name, TTL and type).

A change touching an entry ddnsd manages itself (a ``[[records]]`` name and type, an ACME
challenge TXT) is refused and named; the rest of the plan is still applied. A request the
rate limit defers, or TransIP trouble (409, 5xx, no answer), stops the plan: the zone is
read again at its next use and external-dns retries at its next sync. A ``POST`` whose
answer was lost may still be applied later (``landing`` seconds, the client's timeout plus
the minute TransIP may take to save): until then that entry is not posted again, and the
zone is read once more before it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ddnsd.acme.challenge import ACME_PREFIX, longest_suffix
from ddnsd.errors import ApiDeferred, DdnsdError, TransipError, TransipNotFound
from ddnsd.externaldns.mapping import (
    Changes,
    Endpoint,
    Policy,
    canonical,
    domain_filter,
    endpoints_of,
    entries_of,
)
from ddnsd.externaldns.view import ZoneView
from ddnsd.model import DnsEntry

log = logging.getLogger(__name__)


class Writer(Protocol):
    """The part of :class:`ddnsd.transip.client.TransipClient` applying uses."""

    def list_dns_entries(self, domain: str) -> list[DnsEntry]: ...
    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...
    def update_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...
    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None: ...


@dataclass(frozen=True)
class Protected:
    """What ddnsd manages itself: ``records`` as (fqdn, type), ``challenges`` as TXT fqdns
    (besides every ``_acme-challenge`` name)."""

    records: frozenset[tuple[str, str]] = frozenset()
    challenges: frozenset[str] = frozenset()

    def why(self, fqdn: str, rtype: str) -> str | None:
        if (fqdn, rtype) in self.records:
            return "a [[records]] entry ddnsd keeps equal to this machine's address"
        if rtype == "TXT" and (fqdn in self.challenges or fqdn.startswith(ACME_PREFIX)):
            return "an ACME challenge name ddnsd writes"
        return None


class ApplyFailed(DdnsdError):
    """Some of a plan was not applied (answered 500: external-dns retries it)."""


@dataclass
class _Zone:
    """One zone's part of a plan: entries to remove and to add, in order."""

    remove: list[DnsEntry]
    add: list[DnsEntry]


class Provider:
    """The webhook provider over one TransIP client.

    ``zones()`` gives the managed domains (configured, or the account's); ``view`` the
    zones' entries; ``protected`` what is ddnsd's own.
    """

    def __init__(
        self,
        client: Writer,
        zones: Callable[[], list[str]],
        view: ZoneView,
        policy: Policy,
        protected: Protected,
        landing: float = 70.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.zones = zones
        self.view = view
        self.policy = policy
        self.protected = protected
        self.landing = landing
        self._clock = clock
        self._apply_lock = threading.Lock()
        self._in_doubt: dict[tuple[str, DnsEntry], float] = {}  # POST lost → may land until

    def domain_filter(self) -> dict[str, list[str]]:
        return domain_filter(self.zones())

    def records(self) -> list[Endpoint]:
        """Every RRset of every managed zone (a zone inside another reports its own)."""
        zones = self.zones()
        out: list[Endpoint] = []
        for zone in zones:  # an RRset is reported by the innermost zone that holds it
            entries = self.view.entries(zone)
            out += [
                ep
                for ep in endpoints_of(zone, entries)
                if longest_suffix(ep.dns_name, zones) == zone
            ]
        return out

    def adjust(self, endpoints: Sequence[Endpoint]) -> list[Endpoint]:
        """The endpoints as ``/records`` will report them; those TransIP cannot hold are
        left out, each with a log line."""
        out: list[Endpoint] = []
        for ep in endpoints:
            got = canonical(ep, self.policy)
            if isinstance(got, str):
                log.warning("external-dns: leaving out %s %s: %s", ep.dns_name, ep.record_type, got)
                continue
            out.append(got)
        return out

    # -- applying ------------------------------------------------------------------------

    def apply(self, changes: Changes) -> None:
        """Apply a plan; ApplyFailed (or a TransipError/ApiDeferred) names what is left."""
        with self._apply_lock:
            problems: list[str] = []
            plan = self._plan(changes, problems)
            for zone, part in plan.items():
                self._apply_zone(zone, part, problems)
            if problems:
                raise ApplyFailed("; ".join(problems))

    def _plan(self, changes: Changes, problems: list[str]) -> dict[str, _Zone]:
        zones = self.zones()
        plan: dict[str, _Zone] = {}

        # What goes is matched as /records reported it: a TTL below the minimum (an entry
        # made by hand) is not raised, or its entries would not be found.
        as_reported = Policy(min_ttl=1, default_ttl=self.policy.default_ttl)

        def place(eps: Iterable[Endpoint], add: bool) -> None:
            for ep in eps:
                got = canonical(ep, self.policy if add else as_reported)
                if isinstance(got, str):
                    problems.append(f"{ep.dns_name} {ep.record_type}: {got}")
                    continue
                zone = longest_suffix(got.dns_name, zones)
                if zone is None:
                    problems.append(
                        f"{got.dns_name}: in none of the domains managed here ({', '.join(zones)})"
                    )
                    continue
                why = self.protected.why(got.dns_name, got.record_type)
                if why is not None:
                    problems.append(f"refusing {got.dns_name} {got.record_type}: {why}")
                    continue
                part = plan.setdefault(zone, _Zone([], []))
                (part.add if add else part.remove).extend(entries_of(got, zone))

        place([*changes.delete, *changes.update_old], add=False)
        place([*changes.create, *changes.update_new], add=True)
        for part in plan.values():  # an entry both removed and added stays as it is
            same = set(part.remove) & set(part.add)
            part.remove = [e for e in part.remove if e not in same]
            part.add = [e for e in part.add if e not in same]
        return plan

    def _apply_zone(self, zone: str, part: _Zone, problems: list[str]) -> None:
        now = self._clock()
        over = [k for k, until in self._in_doubt.items() if k[0] == zone and until <= now]
        if over:
            self.view.forget(zone)  # what could land has landed: look again before posting
            for k in over:
                del self._in_doubt[k]
        doubts = {e: until for (z, e), until in self._in_doubt.items() if z == zone}
        current = self.view.entries(zone)
        for e in [e for e in doubts if e in current]:
            del self._in_doubt[(zone, e)]  # it landed
        remove = [e for e in part.remove if e in current]  # one already gone: done
        add = [e for e in part.add if e not in current]  # one already there: done
        for entry in [e for e in add if e in doubts]:
            add.remove(entry)
            problems.append(
                f"POST {entry.describe()} {entry.content!r} in {zone} got no answer; it may "
                f"still be applied, so it is not sent again for {doubts[entry] - now:.0f} s"
            )
        patches: list[tuple[DnsEntry, DnsEntry]] = []
        for old in list(remove):
            key = (old.name, old.expire, old.type)
            olds = [e for e in remove if (e.name, e.expire, e.type) == key]
            news = [e for e in add if (e.name, e.expire, e.type) == key]
            held = [e for e in current if (e.name, e.expire, e.type) == key]
            if len(olds) == len(news) == len(held) == 1:  # PATCH finds exactly this one
                patches.append((old, news[0]))
                remove.remove(old)
                add.remove(news[0])
        for entry in remove:
            self._write(zone, "DELETE", entry, problems)
        for old, new in patches:
            self._write(zone, "PATCH", new, problems, old)
        for entry in add:
            self._write(zone, "POST", entry, problems)

    def _write(
        self,
        zone: str,
        method: str,
        entry: DnsEntry,
        problems: list[str],
        old: DnsEntry | None = None,
    ) -> None:
        what = f"{method} {entry.describe()} {entry.content!r} in {zone}"
        try:
            if method == "DELETE":
                self.client.delete_dns_entry(zone, entry)
            elif method == "PATCH":
                self.client.update_dns_entry(zone, entry)
            else:
                self.client.add_dns_entry(zone, entry)
        except TransipNotFound:
            if method != "DELETE":
                self.view.forget(zone)
                problems.append(f"{what}: TransIP answered 404")
                return
            log.info("external-dns: %s: already gone", what)
        except ApiDeferred:
            raise  # nothing was sent: nothing else is sent either
        except TransipError as exc:
            self.view.forget(zone)  # its outcome is unknown: read the zone at its next use
            if method == "POST" and (exc.status == 0 or exc.status >= 500):
                self._in_doubt[(zone, entry)] = self._clock() + self.landing
            if exc.status == 0 or exc.status == 409 or exc.status >= 500:
                raise  # TransIP trouble: stop here, external-dns retries the plan
            problems.append(f"{what}: {exc}")
            return
        log.info("external-dns: %s", what)
        if method == "DELETE":
            self.view.removed(zone, entry)
        elif method == "PATCH":
            assert old is not None
            self.view.patched(zone, old, entry)
        else:
            self.view.added(zone, entry)
