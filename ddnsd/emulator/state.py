"""The emulated account's live state, which every handler works on: its zones (zones.py),
tokens (tokens.py), domain tags (account.py), request counts, rate-limit windows
(ratelimit.py), faults (faults.py) and DNS propagation delay; and where it is served.

:class:`EmulatorState` knows nothing of sockets: the server (server.py) serves it and says
where (``base_url``, ``dns_address``); the handlers (api.py, control.py, resources.py)
read and change it.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddnsd.emulator.account import DomainTags
from ddnsd.emulator.faults import FAULT_KINDS, FaultInjector
from ddnsd.emulator.ratelimit import RateLimiter
from ddnsd.emulator.tokens import TokenAuthority
from ddnsd.emulator.zones import ZoneStore, entry_to_json


@dataclass
class EmulatorConfig:
    """Everything an emulator instance needs; ports 0 pick free ports."""

    users: dict[str, bytes] = field(default_factory=dict)  # login -> public key PEM
    domains: list[str] = field(default_factory=lambda: ["example.test"])
    host: str = "127.0.0.1"
    port: int = 0
    dns_host: str = "127.0.0.1"
    dns_port: int = 0
    propagation_delay: float = 0.0
    fault_rate: float = 0.0
    seed: int = 0
    rate_limit: int = 1000
    rate_limit_window: float = 900.0  # seconds; TransIP's window is 15 minutes
    state_file: Path | str | None = None
    tls_cert: Path | str | None = None
    tls_key: Path | str | None = None
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 1.5
    tags: dict[str, list[str]] = field(default_factory=dict)  # domain -> its custom tags


class RequestStats:
    """Answered ``/v6`` requests by (method, route template, status), and the most recent
    ``LOG_SIZE`` of them with the wall-clock time each arrived; thread-safe."""

    LOG_SIZE = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[tuple[str, str, int]] = collections.Counter()
        self._log: collections.deque[tuple[float, str, str, int]] = collections.deque(
            maxlen=self.LOG_SIZE
        )

    def count(self, method: str, template: str, status: int, at: float | None = None) -> None:
        with self._lock:
            self._counts[(method, template, status)] += 1
            self._log.append((time.time() if at is None else at, method, template, status))

    def log(self) -> dict[str, Any]:
        """``{"requests": [{at, method, path, status}]}``, oldest first (``at``: Unix time)."""
        with self._lock:
            rows = [{"at": at, "method": m, "path": p, "status": s} for at, m, p, s in self._log]
        return {"requests": rows}

    def summary(self) -> dict[str, Any]:
        with self._lock:
            rows = [
                {"method": m, "path": p, "status": s, "count": c}
                for (m, p, s), c in sorted(self._counts.items())
            ]
            return {"requests": rows, "total": sum(self._counts.values())}

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._log.clear()


class EmulatorState:
    """One emulated account's state; :meth:`state`, :meth:`stats`, :meth:`reset` and
    :meth:`set_faults` are what the ``/_emulator`` endpoints do, in-process."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.delay = float(config.propagation_delay)
        state = Path(config.state_file) if config.state_file else None
        self.store = ZoneStore(config.domains, state)
        self.tags = DomainTags(config.tags)
        self.auth = TokenAuthority(dict(config.users))
        self.requests = RequestStats()
        self.limiter = RateLimiter(config.rate_limit, config.rate_limit_window)
        self.faults = FaultInjector(
            config.fault_rate, config.fault_kinds, config.seed, config.slow_seconds
        )
        # where it is served, set by the server once it listens
        self.base_url = ""  # scheme://host:port of the HTTP API
        self.dns_address = ("", 0)  # the authoritative DNS listener

    def state(self) -> dict[str, Any]:
        return {
            "domains": {d: [entry_to_json(e) for e in z] for d, z in self.store.snapshot().items()}
        }

    def stats(self) -> dict[str, Any]:
        return self.requests.summary()

    def reset(self) -> None:
        """Zones, tags, request counts, rate windows and faults as at the start (tokens stay)."""
        self.store.reset()
        self.tags.reset()
        self.requests.clear()
        self.limiter.reset()
        self.faults.reset()

    def set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.faults.configure(body)
