"""``push``: the address a router last reported through the dyndns2 endpoint.

The web layer (``GET /nic/update``) calls :meth:`PushStore.push`; the ``push`` source
reads :meth:`PushStore.get`. The store keeps the latest address per family in memory
(a restart waits for the router's next push; routers push on every reconnect and
periodically).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ddnsd.detect.base import Family, SourceFailed
from ddnsd.detect.validate import parse_address, validate_address

log = logging.getLogger(__name__)


class PushStore:
    """Thread-safe latest pushed address per family.

    ``on_change(reason)`` (optional; the daemon passes ``Scheduler.trigger`` to run a
    round right away) is called with ``"router push"`` after a push that changed the
    stored address of a family, outside the store's lock; its exceptions are logged,
    never raised to the pusher.
    """

    def __init__(
        self,
        on_change: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._latest: dict[Family, tuple[str, float, str]] = {}
        self.on_change = on_change
        self._clock = clock

    def push(self, family: Family | int, address: str, hostname: str) -> bool:
        """Store ``address`` as the latest of ``family``; True when it differs from before.

        Raises ValueError when ``address`` is not an address of ``family`` (the caller
        answers the router accordingly). Whether it is public is checked when read.
        """
        fam = Family(family)
        parsed = parse_address(address)
        if parsed.version != fam.value:
            raise ValueError(f"{parsed} is an IPv{parsed.version} address, not {fam.label}")
        canonical = str(parsed)
        with self._lock:
            before = self._latest.get(fam)
            self._latest[fam] = (canonical, self._clock(), hostname)
        changed = before is None or before[0] != canonical
        if changed:
            log.info("router pushed %s %s for %s", fam.label, canonical, hostname)
            if self.on_change is not None:
                try:
                    self.on_change("router push")
                except Exception:
                    log.exception("push on_change callback failed")
        return changed

    def get(self, family: Family | int) -> tuple[str, float] | None:
        """(address, unix time of the push) of the latest push for ``family``, or None."""
        with self._lock:
            found = self._latest.get(Family(family))
        return None if found is None else (found[0], found[1])

    def hostname(self, family: Family | int) -> str | None:
        """The hostname named by the latest push of ``family``, or None."""
        with self._lock:
            found = self._latest.get(Family(family))
        return None if found is None else found[2]


class PushDetector:
    """The ``push`` source: the latest address a router pushed."""

    source = "push"

    def __init__(self, store: PushStore | None, *, allow_private: bool = False) -> None:
        """``store`` None: a command other than ``ddnsd run``, which no router pushes to."""
        self.store = store
        self.allow_private = allow_private

    def detect(self, family: Family) -> str:
        fam = Family(family)
        if self.store is None:
            raise SourceFailed(
                self.source,
                fam,
                "routers push to the running daemon (ddnsd run) only; this command sees none",
            )
        found = self.store.get(fam)
        if found is None:
            raise SourceFailed(self.source, fam, f"no router has pushed an {fam.label} address yet")
        try:
            return validate_address(found[0], fam, self.allow_private)
        except ValueError as exc:
            raise SourceFailed(self.source, fam, f"the pushed address is unusable: {exc}") from None
