"""dyndns2 router push: ``GET /nic/update?hostname=a,b&myip=IP``.

HTTP basic auth. One answer line per hostname, in order: ``good IP`` / ``nochg IP``
/ ``nohost`` (not one of ours) / ``notfqdn`` (not a domain name as
:func:`ddnsd.names.domain_name` has it, e.g. with a control character, or no hostname) /
``numhost`` (more than 20) / ``abuse`` / ``911`` (TransIP or the round failed).
``myip`` may hold an IPv4 and an IPv6 address separated by a comma (FRITZ!Box
``<ipaddr>,<ip6addr>``), ``myipv6`` is read too; without any, the client's own
address is used (what dyndns2 specifies; a router on the LAN has a private one,
which the push store then refuses). An address that is not an IP address (a control
character or blank in it too), two of one family, or one the push store refuses
(ValueError: private, bogon, ...) answers ``abuse``: dyndns2's "refused, do not retry
unchanged"; the reason goes to the log.
``badauth`` comes with HTTP 401, ``911`` with 502 (TransIP) or 503, lock-out ``abuse``
with 429, ``badagent`` (a query that cannot be parsed) with 400; every other answer
with 200.

:func:`answer` decides the lines and the status from the query alone (PURE but for
the push it is handed); :class:`DyndnsRoute` adds credentials, lock-out and metrics.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import Protocol
from urllib.parse import parse_qs

from ddnsd import names
from ddnsd.config.runtime import DyndnsEndpoint
from ddnsd.errors import DdnsdError, TransipError
from ddnsd.observe.metrics import Metrics
from ddnsd.web.wsgi import AuthGuard, HttpError, Response, Route, WebRequest, text

log = logging.getLogger(__name__)

MAX_HOSTNAMES = 20  # dyndns2: more than this answers "numhost"

Push = Callable[[int, str, str], bool]
"""``push(family, address, hostname)``: True when the address is news, False when known;
ValueError for an address it refuses, DdnsdError (TransipError) when it could not act."""


class PushTarget(Protocol):
    """Where router pushes go (``ddnsd.detect.push.PushStore``)."""

    def push(self, family: int, address: str, hostname: str) -> bool: ...


def hostname(text: str) -> str | None:
    """The normalised hostname (two labels at least), or None when it is not one."""
    try:
        name = names.domain_name(text)
    except ValueError:
        return None
    return name if "." in name else None


def answer(query: str, client: str, endpoint: DyndnsEndpoint, push: Push) -> tuple[list[str], int]:
    """(answer lines, HTTP status) for an authenticated ``/nic/update`` with this query.

    ``client`` is the router's address ("-" when unknown), used when the query names none.
    """
    try:
        fields = parse_qs(query, keep_blank_values=True, max_num_fields=64)
    except ValueError:
        return ["badagent"], 400
    hosts = [h for v in fields.get("hostname", []) for h in v.split(",") if h]
    if not hosts:
        return ["notfqdn"], 200
    if len(hosts) > MAX_HOSTNAMES:
        return ["numhost"], 200
    raw_ips = [
        part
        for key in ("myip", "myipv6")
        for value in fields.get(key, [])
        for part in value.split(",")
        if part
    ]
    if not raw_ips and client != "-":
        raw_ips = [client]
    addresses, refusal = _addresses(raw_ips)
    lines: list[str] = []
    failure = 0
    for host in hosts:
        name = hostname(host)
        if name is None:
            lines.append("notfqdn")
        elif name not in endpoint.hostnames:
            lines.append("nohost")
        elif refusal:
            log.warning("dyndns push for %s refused: %s", name, refusal)
            lines.append("abuse")
        else:
            line, status = _push_host(name, addresses, push)
            lines.append(line)
            failure = max(failure, status)
    return lines, failure or 200


def _addresses(raw: list[str]) -> tuple[list[tuple[int, str]], str]:
    """([(family, canonical address)] in family order, refusal reason or "")."""
    if not raw:
        return [], "no address given and the client address is unknown"
    found: dict[int, str] = {}
    for raw_ip in raw:
        try:
            if names.unsafe_character(raw_ip) is not None:  # "fe80::1%\n" parses
                raise ValueError(raw_ip)
            address = ipaddress.ip_address(raw_ip)
        except ValueError:
            return (
                [],
                f"myip {names.shown(raw_ip, 60)} is not an IP address; check the router's URL",
            )
        if address.version in found and found[address.version] != str(address):
            return [], f"myip holds two IPv{address.version} addresses; send one per family"
        found[address.version] = str(address)
    return sorted(found.items()), ""


def _push_host(name: str, addresses: list[tuple[int, str]], push: Push) -> tuple[str, int]:
    """(answer line, HTTP status for a failure or 0) for one of our hostnames."""
    shown = ",".join(address for _, address in addresses)
    news = False
    for family, address in addresses:
        try:
            news = push(family, address, name) or news
        except ValueError as exc:
            log.warning("dyndns push %s %s refused: %s", name, address, exc)
            return "abuse", 0
        except TransipError as exc:
            log.error("dyndns push %s %s failed: %s", name, address, exc)
            return "911", 502
        except DdnsdError as exc:
            log.error("dyndns push %s %s failed: %s", name, address, exc)
            return "911", 503
    word = "good" if news else "nochg"
    log.info("dyndns push %s %s: %s", name, shown, word)
    return f"{word} {shown}", 0


class DyndnsRoute:
    """``GET /nic/update`` in front of a :class:`PushTarget`."""

    def __init__(
        self,
        endpoint: DyndnsEndpoint,
        target: PushTarget,
        guard: AuthGuard,
        metrics: Metrics | None,
    ) -> None:
        self.endpoint = endpoint
        self.target = target
        self.guard = guard
        self.metrics = metrics

    def routes(self) -> dict[str, Route]:
        return {"/nic/update": Route(frozenset({"GET"}), self.update)}

    def update(self, req: WebRequest) -> Response:
        wait = self.guard.retry_after(req.client)
        if wait:
            return self._answer(429, ["abuse"], [("Retry-After", str(wait))])
        endpoint = self.endpoint
        try:
            self.guard.require_basic(req, endpoint.username, endpoint.password, "ddnsd dyndns")
        except HttpError as exc:
            return self._answer(401, ["badauth"], exc.headers)
        lines, status = answer(req.query, req.client, endpoint, self.target.push)
        return self._answer(status, lines)

    def _answer(
        self, status: int, lines: list[str], headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        if self.metrics is not None:
            for line in lines:
                self.metrics.dyndns_pushes.labels(result=line.split(" ", 1)[0]).inc()
        return text(status, "\n".join(lines), headers)
