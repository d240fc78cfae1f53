"""The TransIP account's domain names, cached in ``state_dir/domains.json``, and the zones
challenges may be written in.

A hook run is a fresh process: without the file every ``present`` would start with a
``GET /domains``. The file is shared by every ddnsd process with that state directory and
is only a cache: when it cannot be read or written, the list is asked again (an unusable
one, :class:`DomainsFile`, is set aside first).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Protocol

import pydantic

from ddnsd import readback, statefiles
from ddnsd.acme import challenge
from ddnsd.statedir import StateDir

log = logging.getLogger(__name__)

DOMAINS_REFRESH_MIN = 60.0  # seconds between two refreshes of the domain list


class DomainsFile(pydantic.BaseModel):
    """``domains.json`` as it may be read back."""

    fetched: readback.Time
    domains: list[Annotated[readback.Text, pydantic.Field(min_length=1, max_length=253)]]


class DomainLister(Protocol):
    """The part of :class:`ddnsd.transip.client.TransipClient` the domain list uses."""

    def list_domains(self) -> list[str]: ...


class AccountDomains:
    """The account's domains (from memory, the state-dir cache, or the API) and the
    allowed zones: the configured ``zones``, else every domain of the account.

    ``ttl``: how long a fetched list is used (seconds); ``clock``: wall clock (tests).
    """

    def __init__(
        self,
        client: DomainLister,
        state: StateDir,
        *,
        zones: list[str] | None = None,
        ttl: float = 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.state = state
        self.zones = [challenge.normalize_name(z) for z in zones] if zones is not None else None
        self.ttl = ttl
        self._clock = clock
        self._domains: list[str] | None = None
        self._domains_at = 0.0  # wall clock of the list's fetch
        self._fetched_at = float("-inf")  # wall clock of this object's own last fetch
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.state.file(StateDir.DOMAINS)

    def domains(self, *, refresh: bool = False) -> list[str]:
        """The account's domain names, from memory, the state-dir cache, or the API.

        ``refresh`` asks the API unless this object asked it less than a minute ago
        (a name outside every domain must not cost a request each time).
        """
        with self._lock:
            now = self._clock()
            if not refresh:
                if self._domains is not None and now - self._domains_at < self.ttl:
                    return list(self._domains)
                cached = self._read_cache()
                if cached is not None:
                    self._domains, self._domains_at = cached
                    return list(self._domains)
            elif self._domains is not None and now - self._fetched_at < DOMAINS_REFRESH_MIN:
                return list(self._domains)
            fetched = sorted({challenge.normalize_name(d) for d in self.client.list_domains()})
            self._domains, self._domains_at, self._fetched_at = fetched, now, now
            self._write_cache(fetched, now)
            return list(fetched)

    def allowed_zones(self) -> list[str]:
        return list(self.zones) if self.zones is not None else self.domains()

    def _read_cache(self) -> tuple[list[str], float] | None:
        now = self._clock()
        try:
            data = readback.read_back(
                self.path,
                DomainsFile,
                advice="the list is asked from TransIP again; delete the file",
                context={"now": now},
            )
        except OSError:
            return None
        if data is None or not 0 <= now - data.fetched < self.ttl:
            return None
        return data.domains, data.fetched

    def _write_cache(self, domains: list[str], fetched: float) -> None:
        try:
            statefiles.make_dir(self.state.path)
            text = json.dumps({"fetched": fetched, "domains": domains}) + "\n"
            statefiles.write_atomic(self.path, text)
        except OSError as exc:  # a cache: failing to write it costs requests, nothing else
            log.warning("cannot write %s (%s); the domain list is not cached", self.path, exc)
