"""Ask a zone's authoritative nameservers directly (no recursive cache in between).

Questions go out through :mod:`ddnsd.dnswire` (standard library); dnspython's resolver is
loaded only to find a zone's NS records when no ``[dns] nameservers`` are configured.

Shared by the DDNS drift check (``reconcile/engine.py``) and ACME propagation
(``acme/propagation.py``). Nameservers come from the ``[dns] nameservers`` override
("127.0.0.1:8053", "[::1]:53", "ns1.example.net") or from the zone's NS records
resolved through the system resolver.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ddnsd import dnswire
from ddnsd.detect.spec import split_server
from ddnsd.errors import DdnsdError


@dataclass(frozen=True, slots=True)
class Nameserver:
    """One authoritative server: ``label`` for logs, ``address``/``port`` to send to."""

    label: str
    address: str
    port: int = 53

    def __str__(self) -> str:
        return self.label


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
    import dns.exception
    import dns.resolver

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
) -> list[str]:
    """The values ``server`` serves for ``fqdn``/``rdtype`` (non-recursive by default).

    TXT values come back unquoted and joined (one string per record); A/AAAA as the
    address text. An empty list means NXDOMAIN or no data. Network failures and other
    rcodes raise :class:`DdnsdError` naming the server. ``recursion=True`` asks a resolver
    (address detection) and accepts the answer at the end of a CNAME chain.
    """
    try:
        kind = dnswire.type_code(rdtype)
        answer = dnswire.exchange(
            server.address,
            server.port,
            fqdn,
            rdtype,
            rdclass,
            rd=recursion,  # without it we ask the authority itself
            timeout=timeout,
        )
    except TimeoutError:
        raise DdnsdError(
            f"no answer from {server} within {timeout:g} s for {fqdn} {rdtype}"
        ) from None
    except (OSError, ValueError) as exc:
        raise DdnsdError(f"nameserver {server} did not answer for {fqdn} {rdtype}: {exc}") from exc
    if answer.rcode == dnswire.NXDOMAIN:
        return []
    if answer.rcode != 0:
        rcode = dnswire.RCODES.get(answer.rcode, str(answer.rcode))
        raise DdnsdError(f"nameserver {server} answered {rcode} for {fqdn} {rdtype}")
    qname = fqdn.rstrip(".").lower() + "."
    return [r.value for r in answer.records if r.type == kind and (recursion or r.name == qname)]
