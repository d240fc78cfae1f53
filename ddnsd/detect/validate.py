"""Is this text a public address of the right family? Pure functions, no I/O.

Two tiers of non-public ranges (first match in the tables wins):

- *never*: not a host's own unicast address at all — unspecified, ``0/8``, loopback,
  link-local, multicast, ``240/4`` (incl. broadcast), IPv4-mapped IPv6, discard-only
  ``100::/64`` and IPv6 outside the global-unicast block ``2000::/3``. Refused even with
  ``allow_private``.
- *private*: unicast but not reachable from the Internet, or reserved for examples —
  RFC 1918, CGNAT ``100.64/10``, IETF protocol assignments, documentation
  (``192.0.2/24``, ``198.51.100/24``, ``203.0.113/24``, ``2001:db8::/32``, ``3fff::/20``),
  benchmarking (``198.18/15``, ``2001:2::/48``), ULA ``fc00::/7``, site-local
  ``fec0::/10``, NAT64 prefixes, the 6to4 relay anycast ``192.88.99/24``, and the
  tunnel ranges Teredo ``2001::/32`` and 6to4 ``2002::/16``. Tunnel addresses are
  refused because they name a relay mapping, not a stable address of this network
  (6to4 is deprecated by RFC 7526, Teredo ends at a relay). ``allow_private`` (lab use)
  admits this whole tier.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from ddnsd.detect.base import Family, snippet

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _table(rows: list[tuple[str, str]]) -> list[tuple[_Net, str]]:
    return [(ipaddress.ip_network(net), what) for net, what in rows]


NEVER: Final = _table(
    [
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "'this network'"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("100::/64", "discard-only"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    ]
)

PRIVATE: Final = _table(
    [
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("fc00::/7", "unique local (ULA)"),
        ("fec0::/10", "site-local (deprecated)"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "local NAT64"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("2001::/32", "Teredo tunnel"),
        ("2001:2::/48", "benchmarking"),
        ("2001:10::/28", "ORCHID"),
        ("2001:20::/28", "ORCHIDv2"),
        ("2001::/23", "IETF protocol assignment"),
        ("2002::/16", "6to4 tunnel"),
    ]
)

GLOBAL_UNICAST_V6: Final = ipaddress.IPv6Network("2000::/3")
_HOST_MASK: Final = (1 << 64) - 1


def _phrase(what: str, net: _Net) -> str:
    return f"the {what} address" if net.num_addresses == 1 else f"in the {what} range {net}"


def classify(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> tuple[str, str] | None:
    """``None`` for a public address, else ``(tier, phrase)``.

    ``tier`` is "never" or "private"; ``phrase`` completes "ADDRESS is …", e.g.
    ``"in the documentation range 203.0.113.0/24"``.
    """
    for net, what in NEVER:
        if address.version == net.version and address in net:
            return ("never", _phrase(what, net))
    for net, what in PRIVATE:
        if address.version == net.version and address in net:
            return ("private", _phrase(what, net))
    if isinstance(address, ipaddress.IPv6Address) and address not in GLOBAL_UNICAST_V6:
        return ("never", f"outside the global unicast range {GLOBAL_UNICAST_V6}")
    return None


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Plain address text (no zone id, no prefix length) → address, else ValueError."""
    cleaned = text.strip()
    try:
        address = ipaddress.ip_address(cleaned)
    except ValueError:
        raise ValueError(f"{snippet(cleaned)} is not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        raise ValueError(f"{snippet(cleaned)} carries a zone id; a public address has none")
    return address


def validate_address(text: str, family: Family | int, allow_private: bool = False) -> str:
    """Canonical text of ``text`` when it is a public address of ``family``, else ValueError.

    The ValueError text is one sentence saying what the address is, e.g.
    ``"10.0.0.7 is in the private (RFC 1918) range 10.0.0.0/8, not a public address;
    allow_private admits it for lab use"``.
    """
    fam = Family(family)
    address = parse_address(text)
    if address.version != fam.value:
        raise ValueError(f"{address} is an IPv{address.version} address, not {fam.label}")
    found = classify(address)
    if found is not None:
        tier, phrase = found
        if tier == "never":
            raise ValueError(f"{address} is {phrase}, never a public address")
        if not allow_private:
            raise ValueError(
                f"{address} is {phrase}, not a public address; allow_private admits it for lab use"
            )
    return str(address)


def validate_ipv6_host(host: str) -> str:
    """Canonical text of an IPv6 host part like ``"::1234"`` (only the low 64 bits set)."""
    try:
        value = ipaddress.IPv6Address(host.strip())
    except ValueError:
        raise ValueError(
            f"ipv6_host {snippet(host)} is not an IPv6 host part; write it like '::1234'"
        ) from None
    if value.scope_id or int(value) >> 64 or not int(value):
        raise ValueError(
            f"ipv6_host {snippet(host)} must set only the last 64 bits (the interface "
            "identifier), like '::1234'"
        )
    return str(value)


def combine_ipv6_host(detected: str, host: str) -> str:
    """The detected address's /64 prefix joined with ``host``'s interface identifier.

    ``combine_ipv6_host("2001:db8:1:2:aaaa::9", "::1234") == "2001:db8:1:2::1234"``.
    """
    try:
        prefix = ipaddress.IPv6Address(detected.strip())
    except ValueError:
        raise ValueError(f"{snippet(detected)} is not an IPv6 address") from None
    ident = ipaddress.IPv6Address(validate_ipv6_host(host))
    return str(ipaddress.IPv6Address((int(prefix) & ~_HOST_MASK) | int(ident)))
