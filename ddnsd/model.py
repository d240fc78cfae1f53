"""Plain data shared by every layer: DNS entries, record specs, outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DnsEntry:
    """One entry of a TransIP zone, exactly as ``GET /domains/{d}/dns`` lists it.

    ``name`` is relative to the zone ("@" for the apex, "www", "_acme-challenge.sub"),
    ``expire`` the TTL in seconds, ``type`` upper-case ("A", "TXT", ...).
    """

    name: str
    expire: int
    type: str
    content: str

    def describe(self) -> str:
        """TransIP's own way of naming an entry in messages: ``'test 300 A'``."""
        return f"{self.name} {self.expire} {self.type}"


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """A record ddnsd keeps equal to this machine's address (one ``[[records]]`` item)."""

    domain: str
    name: str
    type: str  # "A" or "AAAA"
    ttl: int = 300
    exclusive: bool = False
    ipv6_host: str | None = None  # e.g. "::1234": detected /64 prefix + this host part

    @property
    def fqdn(self) -> str:
        return self.domain if self.name == "@" else f"{self.name}.{self.domain}"

    @property
    def key(self) -> str:
        """Stable label for logs and metrics: ``home.example.test/A``."""
        return f"{self.fqdn}/{self.type}"


class Outcome(enum.Enum):
    """What one round did for one record. Logs, metrics and health all use this."""

    NOOP = "noop"  # already in sync, nothing written
    UPDATED = "updated"  # written (POST/PATCH/DELETE) and acknowledged
    FAILED = "failed"  # could not detect, read or write; see the log line
    CONFLICT = "conflict"  # several entries and not exclusive: left alone on purpose
    DEFERRED = "deferred"  # TransIP's rate limit: waits for the request budget (not sent)

    @property
    def ok(self) -> bool:
        return self in (Outcome.NOOP, Outcome.UPDATED)
