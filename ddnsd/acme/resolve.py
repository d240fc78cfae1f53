"""Where a challenge name is written: its account zone, its nameservers, and (with
``cname_follow``) the end of its CNAME chain.

Names are refused here, before any write: outside ``_acme-challenge.``, outside the
allowed zones, a CNAME chain that loops, leaves the allowed zones or is too long.
"""

from __future__ import annotations

import logging

from ddnsd import authdns
from ddnsd.acme import challenge
from ddnsd.acme.domains import AccountDomains
from ddnsd.acme.propagation import QueryFn
from ddnsd.authdns import Nameserver
from ddnsd.errors import ChallengeRefused, DdnsdError

log = logging.getLogger(__name__)

CNAME_MAX_HOPS = 5


class ZoneResolver:
    """Resolves requested names to ``(name written, zone, relative name)`` for one account.

    ``nameservers``: ask these instead of the zone's NS (CNAME lookups and propagation).
    """

    def __init__(
        self,
        account: AccountDomains,
        *,
        nameservers: list[str] | None = None,
        cname_follow: bool = False,
        query: QueryFn = authdns.query,
    ) -> None:
        self.account = account
        self.nameservers = list(nameservers) if nameservers else None
        self.cname_follow = cname_follow
        self._query = query
        self._servers: dict[str, list[Nameserver]] = {}

    def check_allowed(self, fqdn: str) -> None:
        """Refuse a normalised ``fqdn`` outside ``_acme-challenge.`` or the allowed zones."""
        if not fqdn.startswith(challenge.ACME_PREFIX):
            challenge.check_allowed(fqdn, [])  # raises the "_acme-challenge." refusal
        zones = self.account.zones
        if zones is not None:
            challenge.check_allowed(fqdn, zones)
            return
        try:
            challenge.check_allowed(fqdn, self.account.domains())
        except ChallengeRefused:
            challenge.check_allowed(fqdn, self.account.domains(refresh=True))

    def servers(self, zone: str) -> list[Nameserver]:
        """The nameservers polled for ``zone`` (discovered once per resolver)."""
        if zone not in self._servers:
            self._servers[zone] = authdns.authoritative_servers(zone, self.nameservers)
        return self._servers[zone]

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
                allowed = self.account.allowed_zones()
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
            found = challenge.find_zone(target, self.account.domains())  # raises the refusal
        zone, name = found
        return target, zone, name

    def _zone_of(self, fqdn: str) -> tuple[str, str] | None:
        """(account domain, relative name) for ``fqdn``; refreshes a stale list once on a miss.

        Configured ``zones`` are TransIP domains of the account, so a name inside one needs
        no domain list (saves the ``GET /domains`` of a cold start).
        """
        if self.account.zones is not None:
            zone = challenge.longest_suffix(fqdn, self.account.zones)
            if zone is not None:
                return zone, challenge.relative_name(fqdn, zone)
        zone = challenge.longest_suffix(fqdn, self.account.domains())
        if zone is None:
            zone = challenge.longest_suffix(fqdn, self.account.domains(refresh=True))
        return None if zone is None else (zone, challenge.relative_name(fqdn, zone))

    def _cname_target(self, name: str) -> str | None:
        zone = challenge.longest_suffix(name, self.account.domains())
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
