"""A local stand-in for the TransIP REST API v6 (plus authoritative DNS), for tests and demos.

:class:`Emulator` is one emulated account: its zones (zones.py), tokens (tokens.py), request
counts, rate-limit windows (ratelimit.py) and faults (faults.py), served over HTTP(S)
(http.py, stdlib ``ThreadingHTTPServer``, JSON everywhere) and DNS (dns.py) from threads.
Where each part is documented:

* ``/v6`` endpoints: resources.py; the order of checks, statuses and headers: api.py.
* ``/_emulator/*`` control endpoints (state, stats, faults, reset, seeding, tokens,
  propagation delay): control.py. :meth:`Emulator.state`, :meth:`Emulator.stats`,
  :meth:`Emulator.reset` and :meth:`Emulator.set_faults` do the same in-process.
* Faults (``500``, ``409``, ``slow``, ``lost``, ``ratelimit``; seeded, so runs repeat):
  faults.py.
"""

from __future__ import annotations

import collections
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddnsd.emulator import api, control
from ddnsd.emulator.account import DomainTags
from ddnsd.emulator.dns import DnsServer, Resolver
from ddnsd.emulator.faults import FAULT_KINDS, FaultInjector
from ddnsd.emulator.http import Answer, Request, Server
from ddnsd.emulator.ratelimit import RateLimiter
from ddnsd.emulator.tokens import TokenAuthority
from ddnsd.emulator.zones import ZoneStore, entry_to_json

_ANY_ADDRESS = ("0.0.0.0", "::", "")


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


class Emulator:
    """The emulated TransIP account: HTTP API + authoritative DNS, served from threads."""

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
        self._http: Server | None = None
        self._dns: DnsServer | None = None
        self._ssl: ssl.SSLContext | None = None
        if config.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(config.tls_cert), str(config.tls_key or config.tls_cert))
            self._ssl = ctx

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Emulator:
        cfg = self.config
        ns_addr = cfg.dns_host if cfg.dns_host not in _ANY_ADDRESS else "127.0.0.1"
        resolver = Resolver(self.store, lambda: self.delay, ns_addr)
        self._dns = DnsServer(resolver, cfg.dns_host, cfg.dns_port)
        self._http = Server(cfg.host, cfg.port, self.respond, self._ssl)
        self._dns.start()
        t = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        t.name = "emulator-http"
        t.start()
        return self

    def stop(self) -> None:
        dns_stopper = None
        if self._dns is not None:  # both listeners wind down in parallel
            dns_stopper = threading.Thread(target=self._dns.stop, daemon=True)
            dns_stopper.start()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if dns_stopper is not None:
            dns_stopper.join()
            self._dns = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def respond(self, request: Request) -> Answer:
        """Answer one HTTP request: a control endpoint, or the ``/v6`` API."""
        if request.path.startswith("/_emulator/"):
            return control.respond(self, request)
        return api.respond(self, request)

    @property
    def port(self) -> int:
        assert self._http is not None, "emulator not started"
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        host = self.config.host if self.config.host not in _ANY_ADDRESS else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/v6"

    @property
    def dns_address(self) -> tuple[str, int]:
        assert self._dns is not None, "emulator not started"
        host = self.config.dns_host if self.config.dns_host not in ("0.0.0.0", "") else "127.0.0.1"
        return (host, self._dns.port)

    # -- in-process control (the /_emulator endpoints call these) --------------------------
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
