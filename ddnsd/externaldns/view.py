"""The zones as ddnsd last read them: what ``GET /records`` is served from.

external-dns asks for every record once a minute; a ``GET /domains/{d}/dns`` per domain
per sync would spend TransIP's 1,000 requests / 15 minutes on reading alone. A zone is
read again only when its view is older than ``refresh`` seconds (0: every time, the
removed in-tree provider's way), or after a write whose outcome is unknown
(:meth:`ZoneView.forget`). ddnsd's own writes update the view in place, so a write needs
no read-back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from ddnsd.model import DnsEntry


class ZoneReader(Protocol):
    def list_dns_entries(self, domain: str) -> list[DnsEntry]: ...


class ZoneView:
    """Per zone: its entries and when they were read (``clock``: monotonic seconds)."""

    def __init__(
        self,
        client: ZoneReader,
        refresh: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.refresh = refresh
        self._clock = clock
        self._zones: dict[str, tuple[float, list[DnsEntry]]] = {}
        self._lock = threading.Lock()

    def entries(self, zone: str) -> list[DnsEntry]:
        """The zone's entries; read from TransIP when the view is missing or too old.

        The read happens under the lock, so a write noted meanwhile (``added`` …) is never
        overwritten by a read that started before it."""
        with self._lock:
            now = self._clock()
            held = self._zones.get(zone)
            if held is None or now - held[0] >= self.refresh:
                held = (now, self.client.list_dns_entries(zone))  # TransipError: a 500
                self._zones[zone] = held
            return list(held[1])

    def added(self, zone: str, entry: DnsEntry) -> None:
        self._change(zone, lambda entries: [*entries, entry])

    def removed(self, zone: str, entry: DnsEntry) -> None:
        def without(entries: list[DnsEntry]) -> list[DnsEntry]:
            out = list(entries)
            if entry in out:
                out.remove(entry)  # one of duplicates, as TransIP's DELETE does
            return out

        self._change(zone, without)

    def patched(self, zone: str, old: DnsEntry, new: DnsEntry) -> None:
        self._change(zone, lambda entries: [new if e == old else e for e in entries])

    def forget(self, zone: str) -> None:
        """The zone is read again at its next use (a write's outcome is unknown)."""
        with self._lock:
            self._zones.pop(zone, None)

    def _change(self, zone: str, change: Callable[[list[DnsEntry]], list[DnsEntry]]) -> None:
        with self._lock:
            held = self._zones.get(zone)
            if held is not None:
                self._zones[zone] = (held[0], change(held[1]))
