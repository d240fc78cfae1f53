"""The address-detector contract, written once.

A *detector* turns one configured source string (``"https://api.ipify.org"``,
``"dns:opendns"``, ``"iface:eth0"``, ...) into this machine's public address for one
address family.

Contract of :meth:`Detector.detect`:

- it returns the address as canonical text (``str(ipaddress.ip_address(...))``) that
  already passed :func:`ddnsd.detect.validate.validate_address` for the asked family
  (right family, global unicast unless the detector was made with ``allow_private``);
- otherwise it raises :class:`SourceFailed` (a :class:`~ddnsd.errors.DetectionError`)
  whose text names the source, the family and why, in one sentence;
- it blocks at most about its own ``timeout`` and is safe to call from several threads
  at once (agreement runs every source concurrently);
- it keeps no state between calls that could hide a change: every call asks again.

``source`` is the label for logs and metrics: the configured string with any password
or query value replaced by ``***``.
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ddnsd.errors import DetectionError


class Family(enum.IntEnum):
    """An address family: ``Family.V4 == 4``, ``Family.V6 == 6`` (``Family(4)`` works)."""

    V4 = 4
    V6 = 6

    @property
    def label(self) -> str:
        """``"IPv4"`` / ``"IPv6"`` for messages."""
        return f"IPv{self.value}"

    @property
    def record_type(self) -> str:
        """The DNS record type holding addresses of this family: ``"A"`` / ``"AAAA"``."""
        return "A" if self is Family.V4 else "AAAA"

    @classmethod
    def from_record_type(cls, rtype: str) -> Family:
        """``"A"`` → V4, ``"AAAA"`` → V6; anything else raises ValueError."""
        kind = rtype.strip().upper()
        if kind == "A":
            return cls.V4
        if kind == "AAAA":
            return cls.V6
        raise ValueError(f"record type {rtype!r} holds no address; use A or AAAA")


@runtime_checkable
class Detector(Protocol):
    """One address source. See the module docstring for the full contract."""

    source: str

    def detect(self, family: Family) -> str:
        """This machine's public address of ``family`` as canonical text, or SourceFailed."""
        ...


class SourceFailed(DetectionError):
    """One source could not give a usable address.

    ``str(error)`` is ``"address source 'dns:opendns' failed for IPv4: <reason>"``;
    ``source``, ``family`` and ``reason`` are kept for reports.
    """

    def __init__(self, source: str, family: Family, reason: str) -> None:
        self.source = source
        self.family = Family(family)
        self.reason = reason
        super().__init__(f"address source {source!r} failed for {self.family.label}: {reason}")


def redact_source(source: str) -> str:
    """The source text safe for logs: URL passwords and query values become ``***``, and so
    does a user name given without a password (``https://TOKEN@host`` passes a token so)."""
    if "://" not in source:
        return source
    try:
        parts = urlsplit(source)
    except ValueError:
        return source
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if sep else f"***@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***") for k, _ in pairs], safe="*") if pairs else "***"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def snippet(text: str, limit: int = 40) -> str:
    """A short, printable, quoted excerpt of an unexpected answer for error messages."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text.strip())
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return repr(clean)
