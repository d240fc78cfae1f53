"""Netlink address messages (hand-built bytes) and which interface address is chosen."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from ddnsd.detect import netlink as nl
from ddnsd.detect.base import Family
from ddnsd.detect.interface import pick_address

V4, V6 = Family.V4, Family.V6


def attr(kind: int, data: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


def addr_msg(
    address: str,
    *,
    kind: int = nl.RTM_NEWADDR,
    index: int = 2,
    prefixlen: int = 24,
    flags: int = nl.IFA_F_PERMANENT,
    scope: int = nl.RT_SCOPE_UNIVERSE,
    local: str | None = None,
    ifa_flags_attr: int | None = None,
    preferred: int | None = None,
    label: str | None = None,
    seq: int = 7,
) -> bytes:
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    body = struct.pack("=BBBBI", family, prefixlen, flags & 0xFF, scope, index)
    body += attr(nl.IFA_ADDRESS, ip.packed)
    if local is not None:
        body += attr(nl.IFA_LOCAL, ipaddress.ip_address(local).packed)
    if label is not None:
        body += attr(nl.IFA_LABEL, label.encode() + b"\0")
    if preferred is not None:
        body += attr(nl.IFA_CACHEINFO, struct.pack("=IIII", preferred, 0xFFFFFFFF, 0, 0))
    if ifa_flags_attr is not None:
        body += attr(nl.IFA_FLAGS, struct.pack("=I", ifa_flags_attr))
    return struct.pack("=IHHII", 16 + len(body), kind, 0, seq, 0) + body


def control(kind: int, payload: bytes = b"", seq: int = 7) -> bytes:
    return struct.pack("=IHHII", 16 + len(payload), kind, 0, seq, 0) + payload


def test_parses_a_dump_of_several_messages() -> None:
    data = (
        addr_msg("203.0.113.7", local="203.0.113.7", label="eth0")
        + addr_msg("2001:db8::5", prefixlen=64, index=3)
        + control(nl.NLMSG_DONE, b"\0\0\0\0")
    )
    got = list(nl.parse_messages(data))
    assert [k for k, _s, _a in got] == [nl.RTM_NEWADDR, nl.RTM_NEWADDR, nl.NLMSG_DONE]
    first, second = got[0][2], got[1][2]
    assert first is not None and second is not None
    assert (first.address, first.label, first.index, first.version) == (
        "203.0.113.7",
        "eth0",
        2,
        4,
    )
    assert (second.address, second.prefixlen, second.index, second.version) == (
        "2001:db8::5",
        64,
        3,
        6,
    )


def test_point_to_point_uses_the_local_address_not_the_peer() -> None:
    ((_k, _s, got),) = nl.parse_messages(addr_msg("198.51.100.1", local="198.51.100.2"))
    assert got is not None and got.address == "198.51.100.2"


def test_32_bit_flags_attribute_wins_over_the_8_bit_field() -> None:
    msg = addr_msg("2001:db8::5", flags=0, ifa_flags_attr=nl.IFA_F_DEPRECATED | 0x800)
    ((_k, _s, got),) = nl.parse_messages(msg)
    assert got is not None and got.flags == nl.IFA_F_DEPRECATED | 0x800


def test_deladdr_is_reported_too() -> None:
    ((kind, _s, got),) = nl.parse_messages(addr_msg("203.0.113.7", kind=nl.RTM_DELADDR))
    assert kind == nl.RTM_DELADDR and got is not None and got.address == "203.0.113.7"


def test_netlink_error_raises_oserror() -> None:
    with pytest.raises(OSError, match="Operation not permitted"):
        list(nl.parse_messages(control(nl.NLMSG_ERROR, struct.pack("=i", -1) + b"\0" * 16)))


def test_truncated_data_stops_cleanly() -> None:
    msg = addr_msg("203.0.113.7")
    assert list(nl.parse_messages(msg[:-3])) == []


def ifaddr(
    address: str,
    flags: int = nl.IFA_F_PERMANENT,
    scope: int = nl.RT_SCOPE_UNIVERSE,
    index: int = 2,
    preferred: int = nl.INFINITY_LIFETIME,
) -> nl.IfAddr:
    fam = socket.AF_INET6 if ":" in address else socket.AF_INET
    return nl.IfAddr(fam, index, 64, flags, scope, address, "", preferred, nl.INFINITY_LIFETIME)


SKIP = [
    ("v6/global/kept", ifaddr("2a02:a450::5"), None),
    ("v6/temporary", ifaddr("2a02:a450::5", nl.IFA_F_TEMPORARY), "temporary"),
    ("v6/deprecated-flag", ifaddr("2a02:a450::5", nl.IFA_F_DEPRECATED), "deprecated"),
    ("v6/deprecated-lifetime", ifaddr("2a02:a450::5", 0, preferred=0), "deprecated"),
    ("v6/tentative", ifaddr("2a02:a450::5", nl.IFA_F_TENTATIVE), "tentative"),
    ("v6/dadfailed", ifaddr("2a02:a450::5", nl.IFA_F_DADFAILED), "duplicate (DAD failed)"),
    ("v6/link-scope", ifaddr("fe80::1", scope=nl.RT_SCOPE_LINK), "link scope"),
    ("v6/host-scope", ifaddr("::1", scope=nl.RT_SCOPE_HOST), "host scope"),
    ("v4/secondary-is-fine", ifaddr("8.8.8.8", nl.IFA_F_SECONDARY), None),
    ("v4/host-scope", ifaddr("127.0.0.1", scope=nl.RT_SCOPE_HOST), "host scope"),
]


@pytest.mark.parametrize(("addr", "why"), [c[1:] for c in SKIP], ids=[c[0] for c in SKIP])
def test_skip_reason(addr: nl.IfAddr, why: str | None) -> None:
    assert addr.skip_reason() == why


# (id, addresses in kernel order, family, allow_private, chosen, skipped)
PICK = [
    (
        "v6/temporary-skipped-for-stable",
        [ifaddr("2a02:a450::aaaa", nl.IFA_F_TEMPORARY), ifaddr("2a02:a450::5", 0)],
        V6,
        False,
        "2a02:a450::5",
        ["2a02:a450::aaaa temporary"],
    ),
    (
        "v6/only-link-local",
        [ifaddr("fe80::1", scope=nl.RT_SCOPE_LINK)],
        V6,
        False,
        None,
        ["fe80::1 link scope"],
    ),
    (
        "v6/ula-needs-allow-private",
        [ifaddr("fd00::2"), ifaddr("2a02:a450::7")],
        V6,
        False,
        "2a02:a450::7",
        ["fd00::2 in the unique local (ULA) range fc00::/7"],
    ),
    ("v6/ula-lab", [ifaddr("fd00::2")], V6, True, "fd00::2", []),
    ("v4/first-global", [ifaddr("8.8.8.8"), ifaddr("8.8.4.4")], V4, False, "8.8.8.8", []),
    (
        "v4/private-skipped",
        [ifaddr("192.168.1.2"), ifaddr("8.8.4.4")],
        V4,
        False,
        "8.8.4.4",
        ["192.168.1.2 in the private (RFC 1918) range 192.168.0.0/16"],
    ),
    ("other-interface-ignored", [ifaddr("8.8.8.8", index=9)], V4, False, None, []),
    ("other-family-ignored", [ifaddr("2a02:a450::5")], V4, False, None, []),
]


@pytest.mark.parametrize(
    ("addrs", "family", "lab", "chosen", "skipped"), [c[1:] for c in PICK], ids=[c[0] for c in PICK]
)
def test_pick_address(
    addrs: list[nl.IfAddr], family: Family, lab: bool, chosen: str | None, skipped: list[str]
) -> None:
    assert pick_address(addrs, 2, family, lab) == (chosen, skipped)


def test_watcher_relevance_filters_scope_and_interfaces() -> None:
    watcher = nl.AddressWatcher(lambda: None, {"lo"})
    lo = socket.if_nametoindex("lo")
    new = ifaddr("203.0.113.7", index=lo)
    assert watcher.relevant(nl.RTM_NEWADDR, new) == "address change on lo (new 203.0.113.7)"
    assert watcher.relevant(nl.RTM_DELADDR, new) == "address change on lo (removed 203.0.113.7)"
    link = ifaddr("fe80::1", scope=nl.RT_SCOPE_LINK, index=lo)
    assert watcher.relevant(nl.RTM_NEWADDR, link) is None
    assert watcher.relevant(nl.RTM_NEWADDR, None) is None
    other = nl.AddressWatcher(lambda: None, {"eth-none"})
    assert other.relevant(nl.RTM_NEWADDR, new) is None
