"""``dns:opendns`` / ``dns:google`` / ``dns:cloudflare`` / ``dns:NAME@SERVER[:PORT]``.

A "whoami" DNS query: the server answers with the address the query came from. The
presets send the query to the server's address of the asked family, so the answer is
our address of that family:

========== ============================ ======= ================= =====================
preset     name                         type    IPv4 server       IPv6 server
========== ============================ ======= ================= =====================
opendns    myip.opendns.com             A/AAAA  208.67.222.222    2620:119:35::35
google     o-o.myaddr.l.google.com      TXT     216.239.32.10     2001:4860:4802:32::a
cloudflare whoami.cloudflare (class CH) TXT     1.1.1.1           2606:4700:4700::1111
========== ============================ ======= ================= =====================

``dns:NAME@SERVER[:PORT]`` asks SERVER (an address, ``[v6]:port`` or a host name) for
NAME's A (IPv4) or AAAA (IPv6) records, and for its TXT records when there are none.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from ddnsd import authdns
from ddnsd.authdns import Nameserver
from ddnsd.detect.base import Family, SourceFailed
from ddnsd.detect.spec import split_dns_source
from ddnsd.detect.validate import parse_address, validate_address
from ddnsd.errors import DdnsdError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DnsPreset:
    """A well-known whoami service."""

    qname: str
    rdclass: str  # "IN" or "CH"
    txt: bool  # True: the address comes as TXT; False: as A/AAAA of the family
    server_v4: str
    server_v6: str

    def server(self, family: Family) -> str:
        return self.server_v4 if family is Family.V4 else self.server_v6


PRESETS: dict[str, DnsPreset] = {
    "opendns": DnsPreset("myip.opendns.com", "IN", False, "208.67.222.222", "2620:119:35::35"),
    "google": DnsPreset(
        "o-o.myaddr.l.google.com", "IN", True, "216.239.32.10", "2001:4860:4802:32::a"
    ),
    "cloudflare": DnsPreset("whoami.cloudflare", "CH", True, "1.1.1.1", "2606:4700:4700::1111"),
}


def parse_dns_source(rest: str) -> DnsPreset | tuple[str, str, int]:
    """The part after ``dns:`` → a preset, or (name, server host, port). ValueError if bad."""
    target = split_dns_source(rest)
    return PRESETS[target] if isinstance(target, str) else target


class DnsDetector:
    """Ask a DNS server which address our query came from."""

    def __init__(
        self,
        source: str,
        *,
        timeout: float = 5.0,
        allow_private: bool = False,
        server: tuple[str, int] | None = None,
    ) -> None:
        """``server`` (address, port) replaces the server to ask (tests point presets at
        a local server with it)."""
        if not source.startswith("dns:"):
            raise ValueError(f"{source!r} is not a dns: source")
        self.source = source
        self.target = parse_dns_source(source[4:])
        self.timeout = timeout
        self.allow_private = allow_private
        self.server = server

    def _server_address(self, family: Family) -> tuple[str, int]:
        if self.server is not None:
            return self.server
        if isinstance(self.target, DnsPreset):
            return self.target.server(family), 53
        _name, host, port = self.target
        try:
            parse_address(host)
            return host, port
        except ValueError:
            pass
        want = socket.AF_INET if family is Family.V4 else socket.AF_INET6
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_UDP)
        except OSError as exc:
            raise SourceFailed(
                self.source, family, f"cannot resolve server {host!r}: {exc}"
            ) from None
        infos.sort(key=lambda info: info[0] != want)  # the asked family first
        return str(infos[0][4][0]), port

    def _ask(
        self, family: Family, where: str, port: int, qname: str, rdtype: str, rdclass: str
    ) -> list[str]:
        server = Nameserver(label=f"{where} port {port}", address=where, port=port)
        try:
            return authdns.query(
                server, qname, rdtype, self.timeout, rdclass=rdclass, recursion=True
            )
        except DdnsdError as exc:
            raise SourceFailed(self.source, family, str(exc)) from None

    def detect(self, family: Family) -> str:
        fam = Family(family)
        where, port = self._server_address(fam)
        if isinstance(self.target, DnsPreset):
            qname, rdclass = self.target.qname, self.target.rdclass
            asked = "TXT" if self.target.txt else fam.record_type
            values = self._ask(fam, where, port, qname, asked, rdclass)
        else:
            qname, rdclass = self.target[0], "IN"
            values = self._ask(fam, where, port, qname, fam.record_type, rdclass)
            if not values:
                values = self._ask(fam, where, port, qname, "TXT", rdclass)
            asked = f"{fam.record_type} or TXT"
        if not values:
            raise SourceFailed(self.source, fam, f"{where} has no {asked} record for {qname}")
        return self._pick(fam, values)

    def _pick(self, family: Family, values: list[str]) -> str:
        """The one valid address among the answers (TXT may carry other notes)."""
        found: list[str] = []
        problems: list[str] = []
        for value in values:
            try:
                address = validate_address(value, family, self.allow_private)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if address not in found:
                found.append(address)
        if len(found) == 1:
            log.debug("%s said %s", self.source, found[0])
            return found[0]
        if found:
            raise SourceFailed(
                self.source,
                family,
                f"answered several addresses ({', '.join(sorted(found, key=parse_address))}); "
                "cannot tell which is ours",
            )
        problems.sort(key=lambda p: "is not an IP address" in p)  # a real reason first
        raise SourceFailed(self.source, family, f"bad answer: {problems[0]}")
