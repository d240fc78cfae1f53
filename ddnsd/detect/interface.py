"""``iface:NAME``: the global address of a local interface (read over netlink).

For a machine that holds its public address itself (a router, a VPS, IPv6 SLAAC).
Candidates are the interface's global-scope addresses of the asked family, in the
kernel's order (newest IPv6 address first); for IPv6 temporary (privacy), deprecated,
tentative and DAD-failed addresses are skipped. The first candidate that passes
address validation wins.
"""

from __future__ import annotations

import ipaddress
import logging
import socket

from ddnsd.detect.base import Family, SourceFailed
from ddnsd.detect.netlink import IfAddr, dump_addresses
from ddnsd.detect.spec import check_iface_name
from ddnsd.detect.validate import classify, validate_address

log = logging.getLogger(__name__)


def pick_address(
    addrs: list[IfAddr], index: int, family: Family, allow_private: bool
) -> tuple[str | None, list[str]]:
    """The chosen address of interface ``index`` and why each other one was skipped."""
    want = socket.AF_INET if family is Family.V4 else socket.AF_INET6
    skipped: list[str] = []
    for addr in addrs:
        if addr.index != index or addr.family != want:
            continue
        reason = addr.skip_reason()
        if reason is None:
            found = classify(ipaddress.ip_address(addr.address))
            if found is None or (found[0] == "private" and allow_private):
                return validate_address(addr.address, family, allow_private), skipped
            reason = found[1]
        skipped.append(f"{addr.address} {reason}")
    return None, skipped


class InterfaceDetector:
    """Read the address of a local interface."""

    def __init__(self, name: str, *, timeout: float = 5.0, allow_private: bool = False) -> None:
        check_iface_name(name)
        self.name = name
        self.source = f"iface:{name}"
        self.timeout = timeout
        self.allow_private = allow_private

    def detect(self, family: Family) -> str:
        fam = Family(family)
        try:
            index = socket.if_nametoindex(self.name)
        except OSError:
            raise SourceFailed(self.source, fam, f"there is no interface {self.name!r}") from None
        want = socket.AF_INET if fam is Family.V4 else socket.AF_INET6
        try:
            addrs = dump_addresses(want, timeout=self.timeout)
        except OSError as exc:
            raise SourceFailed(
                self.source, fam, f"cannot read interface addresses over netlink ({exc})"
            ) from None
        address, skipped = pick_address(addrs, index, fam, self.allow_private)
        if address is None:
            detail = f" (skipped: {'; '.join(skipped)})" if skipped else ""
            raise SourceFailed(
                self.source, fam, f"{self.name} has no global {fam.label} address{detail}"
            )
        if skipped:
            log.debug("%s: chose %s, skipped %s", self.source, address, "; ".join(skipped))
        return address
