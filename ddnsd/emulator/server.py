"""A local stand-in for the TransIP REST API v6 (plus authoritative DNS), for tests and demos.

:class:`Emulator` is one emulated account (its state: state.py) served over HTTP(S)
(http.py, stdlib ``ThreadingHTTPServer``, JSON everywhere) and DNS (dns.py) from threads.
The server depends on the handlers and the state, never the other way round.
Where each part is documented:

* ``/v6`` endpoints: resources.py; the order of checks, statuses and headers: api.py.
* ``/_emulator/*`` control endpoints (state, stats, faults, reset, seeding, tokens,
  propagation delay): control.py. :meth:`Emulator.state`, :meth:`Emulator.stats`,
  :meth:`Emulator.reset` and :meth:`Emulator.set_faults` do the same in-process.
* Faults (``500``, ``409``, ``slow``, ``lost``, ``ratelimit``; seeded, so runs repeat):
  faults.py.
"""

from __future__ import annotations

import ssl
import threading

from ddnsd.emulator import api, control
from ddnsd.emulator.dns import DnsServer, Resolver
from ddnsd.emulator.httpserver import ApiAnswer, ApiRequest, Server
from ddnsd.emulator.state import EmulatorConfig, EmulatorState

__all__ = ["Emulator", "EmulatorConfig"]

_ANY_ADDRESS = ("0.0.0.0", "::", "")


class Emulator(EmulatorState):
    """The emulated TransIP account: HTTP API + authoritative DNS, served from threads."""

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
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
        dns_host = cfg.dns_host if cfg.dns_host not in ("0.0.0.0", "") else "127.0.0.1"
        self.dns_address = (dns_host, self._dns.port)
        host = cfg.host if cfg.host not in _ANY_ADDRESS else "127.0.0.1"
        scheme = "https" if self._ssl else "http"
        self.base_url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.port}"
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

    def respond(self, request: ApiRequest) -> ApiAnswer:
        """Answer one HTTP request: a control endpoint, or the ``/v6`` API."""
        if request.path.startswith("/_emulator/"):
            return control.respond(self, request)
        return api.respond(self, request)

    @property
    def port(self) -> int:
        assert self._http is not None, "emulator not started"
        return int(self._http.server_address[1])

    @property
    def api_url(self) -> str:
        return self.base_url + "/v6"
