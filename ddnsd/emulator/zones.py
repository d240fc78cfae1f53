"""Zones of the emulated TransIP account: entries, validation, versions for DNS, state file.

Rules (the seed's where it has them, the emulator's own where it is silent):

* Entry types: A AAAA CNAME MX NS TXT SRV SSHFP TLSA CAA NAPTR (406 ``Invalid DNS entry type 'B'``).
* Names are stored lower-case and must match in full (406 ``Invalid DNS entry name 'x'``
  for a control character or blank anywhere); content of A/AAAA must be an address of
  that family; content holding a control character is 406 ``Invalid content for DNS
  entry 'x 60 TXT'`` (the emulator's choice: TransIP stores no such entry).
* ``POST`` of an entry identical to a stored one (all four fields) is refused with
  406 ``The DNS entry 'x 60 TXT abc' already exists`` (the emulator's choice: TransIP keeps no
  duplicates through POST; "already exists" is stable, so callers may treat it as done).
* All entries with one name and type share one ``expire`` (TransIP keeps one TTL per RRset):
  ``POST``/``PUT`` breaking that is refused with 406
  ``Entries with the same name and type must share one expire: 'x TXT' uses 60``.
* ``PATCH`` matches name + expire + type (406 ``Could not find match for DNS entry 'test 300 A'``
  / ``Multiple matches found for DNS entry 'test 300 A'``); ``DELETE`` removes one entry equal
  in all four fields (404 ``DNS Entry not found``).

Every committed change is a new timestamped *version*; the DNS server serves the newest
version at least ``propagation_delay`` seconds old.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddnsd.model import DnsEntry
from ddnsd.names import unsafe_character

VALID_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SRV", "SSHFP", "TLSA", "CAA", "NAPTR")
# Full matches only: a pattern ending in "$" also matches before a trailing newline.
_DOMAIN = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")
_NAME = re.compile(
    r"@|(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*"
)


class ZoneError(Exception):
    """A refused zone operation: HTTP ``status`` and TransIP's ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def default_entries(domain: str) -> list[DnsEntry]:
    """Foreign entries every emulated domain starts with (tests check they stay untouched)."""
    return [
        DnsEntry("@", 3600, "MX", f"10 mail.{domain}."),
        DnsEntry("@", 3600, "TXT", "v=spf1 mx -all"),
        DnsEntry("mail", 3600, "A", "198.51.100.25"),
        DnsEntry("www", 3600, "CNAME", "@"),
    ]


def valid_domain_name(name: str) -> bool:
    return bool(_DOMAIN.fullmatch(name))


def entry_to_json(e: DnsEntry) -> dict[str, Any]:
    return {"name": e.name, "expire": e.expire, "type": e.type, "content": e.content}


def entry_from_json(obj: Any, where: str = "dnsEntry") -> DnsEntry:
    """Validate one ``dnsEntry`` object from a request body (406 on any problem)."""
    if not isinstance(obj, dict):
        raise ZoneError(406, f"Missing required parameter '{where}'")
    for key in ("name", "expire", "type", "content"):
        if key not in obj or obj[key] is None:
            raise ZoneError(406, f"Missing required parameter '{where}.{key}'")
    name, expire, rtype, content = obj["name"], obj["expire"], obj["type"], obj["content"]
    if not isinstance(rtype, str) or rtype not in VALID_TYPES:
        raise ZoneError(406, f"Invalid DNS entry type '{rtype}'")
    if not isinstance(name, str) or not _NAME.fullmatch(name.lower()):
        raise ZoneError(406, f"Invalid DNS entry name '{name}'")
    if isinstance(expire, str) and expire.isdigit():
        expire = int(expire)
    if isinstance(expire, bool) or not isinstance(expire, int) or not 1 <= expire <= 2**31 - 1:
        raise ZoneError(406, f"Invalid expire '{expire}' for DNS entry '{name}'")
    if (
        not isinstance(content, str)
        or not content.strip()
        or unsafe_character(content, spaces=False)
    ):
        raise ZoneError(406, f"Invalid content for DNS entry '{name} {expire} {rtype}'")
    if rtype in ("A", "AAAA"):
        try:
            addr = ipaddress.ip_address(content)
        except ValueError:
            addr = None
        if addr is None or addr.version != (4 if rtype == "A" else 6):
            raise ZoneError(406, f"Invalid content '{content}' for DNS entry type '{rtype}'")
    return DnsEntry(name.lower(), expire, rtype, content)


@dataclass(frozen=True)
class Version:
    at: float  # time.monotonic() of the commit (-inf: visible from the start)
    serial: int
    entries: tuple[DnsEntry, ...]


class ZoneStore:
    """The account's zones, thread-safe. ``domains`` keep their configured order."""

    def __init__(self, domains: list[str], state_file: Path | None = None) -> None:
        self.domains = [d.lower().rstrip(".") for d in domains]
        self.state_file = state_file
        self._lock = threading.RLock()
        self._zones: dict[str, list[DnsEntry]] = {}
        self._history: dict[str, list[Version]] = {}
        self._serial = int(time.strftime("%Y%m%d")) * 100
        loaded = self._load() if state_file else {}
        for d in self.domains:
            self._zones[d] = list(loaded.get(d, default_entries(d)))
            self._history[d] = [Version(float("-inf"), self._serial, tuple(self._zones[d]))]

    # -- persistence ------------------------------------------------------------------
    def _load(self) -> dict[str, list[DnsEntry]]:
        assert self.state_file is not None
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ValueError(f"state file {self.state_file} cannot be read: {exc}") from exc
        out: dict[str, list[DnsEntry]] = {}
        try:
            for domain, entries in data.get("domains", {}).items():
                out[domain] = [
                    DnsEntry(e["name"], int(e["expire"]), e["type"], e["content"]) for e in entries
                ]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"state file {self.state_file} is not an emulator state "
                f'({{"domains": {{"example.test": [{{name, expire, type, content}}]}}}}): {exc!r}'
            ) from exc
        return out

    def _save(self) -> None:
        if self.state_file is None:
            return
        data = {"domains": {d: [entry_to_json(e) for e in z] for d, z in self._zones.items()}}
        path = self.state_file
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=str(path.parent) or ".")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, path)

    def _commit(self, domain: str) -> None:
        self._serial += 1
        hist = self._history[domain]
        hist.append(Version(time.monotonic(), self._serial, tuple(self._zones[domain])))
        if len(hist) > 200:  # keep history bounded; old versions are long visible
            del hist[: len(hist) - 200]
        self._save()

    # -- reads ------------------------------------------------------------------------
    def zone(self, domain: str) -> list[DnsEntry]:
        """Entries of ``domain`` (406 invalid name, 404 not in this account)."""
        d = domain.lower()
        if not valid_domain_name(d):
            raise ZoneError(406, f"This is not a valid domain name: '{domain}'")
        with self._lock:
            if d not in self._zones:
                raise ZoneError(404, f"Domain with name '{domain}' not found")
            return list(self._zones[d])

    def snapshot(self) -> dict[str, list[DnsEntry]]:
        with self._lock:
            return {d: list(z) for d, z in self._zones.items()}

    def visible(self, domain: str, delay: float) -> Version:
        """The newest version of ``domain`` committed at least ``delay`` seconds ago."""
        cutoff = time.monotonic() - delay
        with self._lock:
            hist = self._history[domain]
            for v in reversed(hist):
                if v.at <= cutoff:
                    return v
            return hist[0]

    # -- writes (test=True validates only) ----------------------------------------------
    def add(self, domain: str, entry: DnsEntry, test: bool = False) -> None:
        with self._lock:
            zone = self.zone(domain)
            _check_name(domain, entry)
            if entry in zone:
                raise ZoneError(
                    406,
                    f"The DNS entry '{entry.describe()} {entry.content}' already exists",
                )
            self._check_expire(zone, entry)
            if not test:
                self._zones[domain.lower()].append(entry)
                self._commit(domain.lower())

    def update(self, domain: str, entry: DnsEntry, test: bool = False) -> None:
        with self._lock:
            zone = self.zone(domain)
            hits = [
                i
                for i, e in enumerate(zone)
                if (e.name, e.expire, e.type) == (entry.name, entry.expire, entry.type)
            ]
            if not hits:
                raise ZoneError(406, f"Could not find match for DNS entry '{entry.describe()}'")
            if len(hits) > 1:
                raise ZoneError(406, f"Multiple matches found for DNS entry '{entry.describe()}'")
            if not test:
                self._zones[domain.lower()][hits[0]] = entry
                self._commit(domain.lower())

    def delete(self, domain: str, entry: DnsEntry, test: bool = False) -> None:
        with self._lock:
            zone = self.zone(domain)
            if entry not in zone:
                raise ZoneError(404, "DNS Entry not found")
            if not test:
                self._zones[domain.lower()].remove(entry)  # removes one of duplicates
                self._commit(domain.lower())

    def replace(self, domain: str, entries: list[DnsEntry], test: bool = False) -> None:
        with self._lock:
            self.zone(domain)
            kept: list[DnsEntry] = []
            for e in entries:
                _check_name(domain, e)
                self._check_expire(kept, e)
                kept.append(e)
            if not test:
                self._zones[domain.lower()] = kept
                self._commit(domain.lower())

    @staticmethod
    def _check_expire(zone: list[DnsEntry], entry: DnsEntry) -> None:
        for e in zone:
            if e.name == entry.name and e.type == entry.type and e.expire != entry.expire:
                raise ZoneError(
                    406,
                    "Entries with the same name and type must share one expire: "
                    f"'{entry.name} {entry.type}' uses {e.expire}",
                )

    # -- control ----------------------------------------------------------------------
    def seed(self, domain: str, entry: DnsEntry) -> None:
        """Add ``entry`` as if it had always been there (no checks, visible to DNS at once)."""
        d = domain.lower()
        with self._lock:
            if d not in self._zones:
                raise ZoneError(404, f"Domain with name '{domain}' not found")
            self._zones[d].append(entry)
            self._history[d] = [
                Version(v.at, v.serial, (*v.entries, entry)) for v in self._history[d]
            ]
            self._save()

    def reset(self) -> None:
        with self._lock:
            self._serial += 1
            for d in self.domains:
                self._zones[d] = default_entries(d)
                self._history[d] = [Version(float("-inf"), self._serial, tuple(self._zones[d]))]
            self._save()


def _check_name(domain: str, entry: DnsEntry) -> None:
    """406 for a name that makes the whole name longer than DNS allows (253 characters);
    POST and PUT alike (a zone holding one could not be served)."""
    if entry.name != "@" and len(f"{entry.name}.{domain}") > 253:
        raise ZoneError(406, f"Invalid DNS entry name '{entry.name}'")
