"""Ask a zone's authoritative nameservers directly (no recursive cache in between).

One question to one server with dnspython (``dns.message`` + ``dns.query``: UDP, and TCP
when the answer is truncated); its recursive resolver only finds a zone's NS records when
no ``[dns] nameservers`` are configured.

Shared by the DDNS drift check (``reconcile/engine.py``) and ACME propagation
(``acme/propagation.py``). Nameservers come from the ``[dns] nameservers`` override
("127.0.0.1:8053", "[::1]:53", "ns1.example.net") or from the zone's NS records
resolved through the system resolver.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdata
import dns.rdtypes.txtbase
import dns.resolver

from ddnsd.errors import DdnsdError
from ddnsd.hostport import split_server


@dataclass(frozen=True, slots=True)
class Nameserver:
    """One authoritative server: ``label`` for logs, ``address``/``port`` to send to."""

    label: str
    address: str
    port: int = 53

    def __str__(self) -> str:
        return self.label


class Values(list[str]):
    """The values a server serves for one name and type, and their TTL (``ttl``; None when
    it served none). A list, so it compares equal to a plain list of the same values."""

    def __init__(self, values: list[str] | None = None, ttl: int | None = None) -> None:
        super().__init__(values or [])
        self.ttl = ttl


def parse_server(spec: str) -> Nameserver:
    """``"127.0.0.1:8053"`` / ``"[::1]:53"`` / ``"::1"`` / ``"ns1.example"`` → Nameserver.

    A host name is resolved to its first address. A malformed text raises DdnsdError.
    """
    spec = spec.strip()
    try:
        host, port = split_server(spec)
    except ValueError as exc:
        raise DdnsdError(str(exc)) from None
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        address = host
    except OSError:
        try:
            address = str(socket.getaddrinfo(host, port, proto=socket.IPPROTO_UDP)[0][4][0])
        except OSError as exc:
            raise DdnsdError(f"nameserver {spec!r}: cannot resolve {host!r}: {exc}") from exc
    return Nameserver(label=spec, address=str(address), port=port)


def authoritative_servers(
    zone: str, override: list[str] | None = None, timeout: float = 5.0
) -> list[Nameserver]:
    """The servers to ask for ``zone``: the override when given, else NS + addresses."""
    if override:
        return [parse_server(s) for s in override]
    resolver = dns.resolver.Resolver()
    resolver.lifetime = timeout
    try:
        answer = resolver.resolve(zone, "NS")
    except dns.exception.DNSException as exc:
        raise DdnsdError(
            f"cannot find the nameservers of {zone!r} ({exc}); "
            "set [dns] nameservers to ask specific servers"
        ) from exc
    servers: list[Nameserver] = []
    for rr in sorted(answer, key=str):
        host = str(rr.target).rstrip(".")
        for rdtype in ("A", "AAAA"):
            try:
                for addr in resolver.resolve(host, rdtype):
                    servers.append(Nameserver(label=f"{host} ({addr})", address=str(addr)))
            except dns.exception.DNSException:
                continue
    if not servers:
        raise DdnsdError(f"none of the nameservers of {zone!r} has an address")
    return servers


def query(
    server: Nameserver,
    fqdn: str,
    rdtype: str,
    timeout: float = 2.0,
    *,
    rdclass: str = "IN",
    recursion: bool = False,
) -> Values:
    """The values ``server`` serves for ``fqdn``/``rdtype`` (non-recursive by default),
    with their TTL (the DDNS drift check needs it to PATCH an entry without reading it).

    TXT values come back unquoted and joined (one string per record); A/AAAA as the
    address text. An empty list means NXDOMAIN or no data. Network failures and other
    rcodes raise :class:`DdnsdError` naming the server. ``recursion=True`` asks a resolver
    (address detection) and accepts the answer at the end of a CNAME chain.
    """
    family = socket.AF_INET6 if ":" in server.address else socket.AF_INET
    try:
        request = dns.message.make_query(fqdn, rdtype, rdclass)
        if not recursion:  # without it we ask the authority itself
            request.flags &= ~dns.flags.RD
        # connected, so a closed port is "connection refused" at once, not a timeout
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.setblocking(False)  # as dns.query wants a socket it is given
            udp.connect((server.address, server.port))
            answer, _tcp = dns.query.udp_with_fallback(
                request,
                server.address,
                timeout,
                server.port,
                udp_sock=udp,
                ignore_errors=True,  # a malformed or foreign reply: keep waiting
            )
    except dns.exception.Timeout:
        raise DdnsdError(
            f"no answer from {server} within {timeout:g} s for {fqdn} {rdtype}"
        ) from None
    except (OSError, dns.exception.DNSException) as exc:
        raise DdnsdError(f"nameserver {server} did not answer for {fqdn} {rdtype}: {exc}") from None
    if answer.rcode() == dns.rcode.NXDOMAIN:
        return Values()
    if answer.rcode() != dns.rcode.NOERROR:
        rcode = dns.rcode.to_text(answer.rcode())
        raise DdnsdError(f"nameserver {server} answered {rcode} for {fqdn} {rdtype}")
    kind, qname = request.question[0].rdtype, request.question[0].name
    found = [
        rrset
        for rrset in answer.answer
        if rrset.rdtype == kind and (recursion or rrset.name == qname)
    ]
    values = [_text(rdata) for rrset in found for rdata in rrset]
    return Values(values, min((rrset.ttl for rrset in found), default=None))


def _text(rdata: dns.rdata.Rdata) -> str:
    """A TXT record's strings joined; any other record in its presentation form."""
    if isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return rdata.to_text()
