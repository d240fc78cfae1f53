"""A local stand-in for the TransIP REST API v6 (plus authoritative DNS), for tests and demos.

HTTP (stdlib ``ThreadingHTTPServer``, JSON everywhere)::

    GET  /v6/api-test                      {"ping": "pong"}
    POST /v6/auth                          201 {"token": "<RS256 JWT>"}    (see tokens.py)
    GET  /v6/domains[?pageSize=N&page=P]   {"domains": [...], "_links": {"pages": [...]}}
    GET  /v6/domains/{domain}              {"domain": {...}}
    GET|POST|PATCH|PUT|DELETE /v6/domains/{domain}/dns    (zones.py has the rules)

Statuses: 201 POST, 204 PATCH/PUT/DELETE (empty bodies), 400 unknown API version, 401 token
problems (messages say "expired" / "revoked"), 403 ``This is a read-only access token...`` on
writes with a read-only token, 404 unknown resource, 405 unsupported method, 406 missing or
invalid parameters, 422 malformed JSON, 429 ``Rate limit of N requests per 15 minutes
exceeded...``. Every ``/v6`` response carries ``X-Rate-Limit-Limit/Remaining/Reset`` (sliding
15-minute window per login). ``?test=1`` (and the seed's demo token) validate writes without
applying them.

Faults (seeded ``random.Random``, so runs repeat): ``500``, ``409`` (``Error fetching Dns
Entries: DNS Entries are currently being saved``), ``slow`` (answers after ``slow_seconds``),
``lost`` (the request is applied, then the connection is closed without an answer).
``fault_rate`` picks them at random for ``/v6`` writes; ``POST /_emulator/faults`` sets
``rate``/``kinds``/``seed`` or a ``script`` of exact next faults.

Control endpoints (outside /v6, never counted or rate-limited): ``GET /_emulator/state``,
``GET /_emulator/stats``, ``GET /_emulator/tokens``, ``POST /_emulator/faults``,
``POST /_emulator/reset``, ``POST /_emulator/entries``, ``POST /_emulator/revoke``
(``{"jti": ...}`` / ``{"label": ...}`` / ``{"all": true}``), ``POST /_emulator/expire``
(``{}`` = every token, or ``{"jti": ...}``), ``POST /_emulator/delay``
(``{"propagation_delay": SECONDS}``: change the DNS delay of a running emulator).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import math
import random
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ddnsd.emulator.dns import DnsServer, Resolver
from ddnsd.emulator.tokens import AuthFailure, Principal, TokenAuthority
from ddnsd.emulator.zones import ZoneError, ZoneStore, entry_from_json, entry_to_json

log = logging.getLogger("ddnsd.emulator")

FAULT_KINDS = ("500", "409", "slow", "lost")
WINDOW = 15 * 60
BEING_SAVED = "Error fetching Dns Entries: DNS Entries are currently being saved"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

# (path regex, template, allowed methods)
_ROUTES: list[tuple[re.Pattern[str], str, frozenset[str]]] = [
    (re.compile(r"^/v6/api-test$"), "/v6/api-test", frozenset({"GET"})),
    (re.compile(r"^/v6/auth$"), "/v6/auth", frozenset({"POST"})),
    (re.compile(r"^/v6/domains$"), "/v6/domains", frozenset({"GET"})),
    (re.compile(r"^/v6/domains/(?P<domain>[^/]+)$"), "/v6/domains/{domain}", frozenset({"GET"})),
    (
        re.compile(r"^/v6/domains/(?P<domain>[^/]+)/dns$"),
        "/v6/domains/{domain}/dns",
        frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"}),
    ),
]


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
    state_file: Path | str | None = None
    tls_cert: Path | str | None = None
    tls_key: Path | str | None = None
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 1.5


class _Reply(Exception):
    """Short-circuit a request with ``status`` and a JSON body."""

    def __init__(self, status: int, body: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(status: int, message: str) -> _Reply:
    return _Reply(status, {"error": message})


class Emulator:
    """The emulated TransIP account: HTTP API + authoritative DNS, served from threads."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.delay = float(config.propagation_delay)
        state = Path(config.state_file) if config.state_file else None
        self.store = ZoneStore(config.domains, state)
        self.auth = TokenAuthority(dict(config.users))
        self._lock = threading.Lock()
        self._stats: collections.Counter[tuple[str, str, int]] = collections.Counter()
        self._windows: dict[str, collections.deque[float]] = {}
        self._fault_rate = config.fault_rate
        self._fault_kinds = tuple(config.fault_kinds)
        self._random = random.Random(config.seed)
        self._script: list[dict[str, str | None]] = []
        self._http: ThreadingHTTPServer | None = None
        self._dns: DnsServer | None = None
        self._threads: list[threading.Thread] = []
        self._ssl: ssl.SSLContext | None = None
        if config.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(config.tls_cert), str(config.tls_key or config.tls_cert))
            self._ssl = ctx

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Emulator:
        cfg = self.config
        ns_addr = cfg.dns_host if cfg.dns_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        resolver = Resolver(self.store, lambda: self.delay, ns_addr)
        self._dns = DnsServer(resolver, cfg.dns_host, cfg.dns_port)
        self._http = _make_http_server(self, cfg.host, cfg.port)
        self._dns.start()
        t = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        t.name = "emulator-http"
        t.start()
        self._threads.append(t)
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

    @property
    def port(self) -> int:
        assert self._http is not None, "emulator not started"
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
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

    # -- state helpers (also used by the control endpoints) --------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "domains": {d: [entry_to_json(e) for e in z] for d, z in self.store.snapshot().items()}
        }

    def stats(self) -> dict[str, Any]:
        with self._lock:
            rows = [
                {"method": m, "path": p, "status": s, "count": c}
                for (m, p, s), c in sorted(self._stats.items())
            ]
            return {"requests": rows, "total": sum(self._stats.values())}

    def reset(self) -> None:
        self.store.reset()
        with self._lock:
            self._stats.clear()
            self._windows.clear()
            self._script.clear()
            self._fault_rate = self.config.fault_rate
            self._fault_kinds = tuple(self.config.fault_kinds)
            self._random = random.Random(self.config.seed)

    def set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if "rate" in body:
                rate = float(body["rate"])
                if not 0.0 <= rate <= 1.0:
                    raise _error(406, "Fault rate must be between 0 and 1")
                self._fault_rate = rate
            if "kinds" in body:
                kinds = tuple(str(k) for k in body["kinds"])
                bad = [k for k in kinds if k not in FAULT_KINDS]
                if bad or not kinds:
                    raise _error(406, f"Unknown fault kinds {bad}; use {list(FAULT_KINDS)}")
                self._fault_kinds = kinds
            if "seed" in body:
                self._random = random.Random(int(body["seed"]))
            if "script" in body:
                script: list[dict[str, str | None]] = []
                for item in body["script"] or []:
                    kind = str(item.get("kind", ""))
                    if kind not in FAULT_KINDS:
                        raise _error(406, f"Unknown fault kind '{kind}'; use {list(FAULT_KINDS)}")
                    method = item.get("method")
                    path = item.get("path")
                    script.append(
                        {
                            "kind": kind,
                            "method": method.upper() if method else None,
                            "path": path or None,
                        }
                    )
                self._script = script
            return {
                "rate": self._fault_rate,
                "kinds": list(self._fault_kinds),
                "script": list(self._script),
            }

    # -- per-request machinery --------------------------------------------------------------
    def pick_fault(self, method: str, template: str) -> str | None:
        with self._lock:
            for i, item in enumerate(self._script):
                if item["method"] not in (None, method):
                    continue
                if item["path"] not in (None, template):
                    continue
                del self._script[i]
                return item["kind"]
            if (
                method in WRITE_METHODS
                and self._fault_rate > 0
                and template != "/v6/auth"
                and self._random.random() < self._fault_rate
            ):
                return self._random.choice(self._fault_kinds)
            return None

    def rate_check(self, login: str) -> tuple[dict[str, str], bool]:
        """Count one request for ``login``: (X-Rate-Limit-* headers, allowed)."""
        now = time.time()
        limit = self.config.rate_limit
        with self._lock:
            window = self._windows.setdefault(login, collections.deque())
            while window and window[0] <= now - WINDOW:
                window.popleft()
            allowed = len(window) < limit
            if allowed:
                window.append(now)
            reset = math.ceil(window[0] + WINDOW) if window else math.ceil(now + WINDOW)
            headers = {
                "X-Rate-Limit-Limit": str(limit),
                "X-Rate-Limit-Remaining": str(max(0, limit - len(window))),
                "X-Rate-Limit-Reset": str(reset),
            }
            return headers, allowed

    def fresh_headers(self) -> dict[str, str]:
        limit = self.config.rate_limit
        return {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(limit),
            "X-Rate-Limit-Reset": str(math.ceil(time.time() + WINDOW)),
        }

    def count(self, method: str, template: str, status: int) -> None:
        with self._lock:
            self._stats[(method, template, status)] += 1


def _make_http_server(emu: Emulator, host: str, port: int) -> ThreadingHTTPServer:
    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128  # benchmarks open many connections at once

        def finish_request(self, request: Any, client_address: Any) -> None:
            if emu._ssl is not None:  # handshake in the request thread, not the accept loop
                try:
                    request.settimeout(10)
                    request = emu._ssl.wrap_socket(request, server_side=True)
                except (OSError, ssl.SSLError) as exc:
                    log.info("emulator TLS handshake failed from %s: %s", client_address[0], exc)
                    return
            super().finish_request(request, client_address)

    class Handler(_Handler):
        emulator = emu

    return Server((host, port), Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; without TCP_NODELAY the body waits for
    # the client's delayed ACK of the headers (~40 ms per keep-alive response).
    disable_nagle_algorithm = True
    server_version = "ddnsd-emulator"
    timeout = 60
    emulator: Emulator

    def version_string(self) -> str:
        return self.server_version

    # silence http.server's own stderr logging; we log one line per request ourselves
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    # -- plumbing ------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json(self, raw: bytes) -> Any:
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise _error(422, f"The request body is not valid JSON: {exc}") from None

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop(self) -> None:
        """Close the connection without any answer (fault "lost")."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.connection.close()

    def _dispatch(self) -> None:
        emu = self.emulator
        started = time.monotonic()
        url = urlsplit(self.path)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        method = self.command
        raw = self._body()
        if path.startswith("/_emulator/"):
            status, body = self._control(path, method, raw)
            self._send(status, body, {})
            log.debug("%s %s %s", method, path, status)
            return
        template = path
        headers = emu.fresh_headers()
        status, body, fault = 500, None, None
        lost = False
        try:
            miss: _Reply | None = None
            try:
                template, params, allowed = _route(path)
            except _Reply as exc:  # answered after the token check, like any resource
                miss, params, allowed = exc, {}, frozenset()
            if template == "/v6/auth":
                if method not in allowed:
                    raise _error(405, f"Method {method} is not allowed on {template}")
                fault = emu.pick_fault(method, template)
                lost = self._fault_before(fault)
                try:
                    token = emu.auth.issue(raw, self.headers.get("Signature"))
                except AuthFailure as exc:
                    raise _error(exc.status, exc.message) from None
                status, body = 201, {"token": token}
            else:
                try:
                    who = emu.auth.check(self.headers.get("Authorization"))
                except AuthFailure as exc:
                    raise _error(exc.status, exc.message) from None
                headers, ok = emu.rate_check(who.login)
                if not ok:
                    raise _error(
                        429,
                        f"Rate limit of {emu.config.rate_limit} requests per 15 minutes "
                        f"exceeded; retry after {headers['X-Rate-Limit-Reset']}",
                    )
                if miss is not None:
                    raise miss
                if method not in allowed:
                    raise _error(405, f"Method {method} is not allowed on {template}")
                if method in WRITE_METHODS and who.read_only:
                    raise _error(
                        403, "This is a read-only access token; it cannot modify DNS entries"
                    )
                fault = emu.pick_fault(method, template)
                lost = self._fault_before(fault)
                test = who.test_mode or query.get("test") in ("1", "true")
                status, body = self._v6(template, method, params, query, raw, who, test)
        except _Reply as reply:
            status, body = reply.status, reply.body
        except Exception:
            log.exception("emulator failed on %s %s", method, path)
            status, body = 500, {"error": "Internal server error"}
        ms = (time.monotonic() - started) * 1000
        if lost:
            emu.count(method, template, 0)
            log.info("%s %s lost (applied, no answer) %.1fms", method, path, ms)
            self._drop()
            return
        emu.count(method, template, status)
        log.info("%s %s %s %.1fms", method, path, status, ms)
        self._send(status, body, headers)

    def _fault_before(self, fault: str | None) -> bool:
        """Apply a fault's effect before handling; True if the answer is to be lost."""
        if fault == "500":
            raise _error(500, "Internal server error")
        if fault == "409":
            raise _error(409, BEING_SAVED)
        if fault == "slow":
            time.sleep(self.emulator.config.slow_seconds)
        return fault == "lost"

    # -- /v6 resources ----------------------------------------------------------------------
    def _v6(
        self,
        template: str,
        method: str,
        params: dict[str, str],
        query: dict[str, str],
        raw: bytes,
        who: Principal,
        test: bool,
    ) -> tuple[int, Any]:
        emu = self.emulator
        store = emu.store
        if template == "/v6/api-test":
            return 200, {"ping": "pong"}
        include = {s.strip() for s in query.get("include", "").split(",") if s.strip()}
        if template == "/v6/domains":
            names = list(store.domains)
            items = [self._domain_json(d, include) for d in names]
            out: dict[str, Any] = {"domains": items}
            self._paginate(out, "domains", query, "/v6/domains")
            return 200, out
        domain = params["domain"].lower()
        try:
            if template == "/v6/domains/{domain}":
                store.zone(domain)
                return 200, {"domain": self._domain_json(domain, include)}
            # /v6/domains/{domain}/dns
            if method == "GET":
                entries = store.zone(domain)
                out = {"dnsEntries": [entry_to_json(e) for e in entries]}
                self._paginate(out, "dnsEntries", query, f"/v6/domains/{domain}/dns")
                return 200, out
            body = self._json(raw)
            if not isinstance(body, dict):
                raise _error(422, "The request body must be a JSON object")
            store.zone(domain)  # 404/406 for the domain before the body
            if method == "PUT":
                if not isinstance(body.get("dnsEntries"), list):
                    raise _error(406, "Missing required parameter 'dnsEntries'")
                entries = [
                    entry_from_json(e, f"dnsEntries[{i}]") for i, e in enumerate(body["dnsEntries"])
                ]
                store.replace(domain, entries, test)
                return 204, None
            entry = entry_from_json(body.get("dnsEntry"))
            if method == "POST":
                store.add(domain, entry, test)
                return 201, None
            if method == "PATCH":
                store.update(domain, entry, test)
                return 204, None
            store.delete(domain, entry, test)
            return 204, None
        except ZoneError as exc:
            raise _error(exc.status, exc.message) from None

    def _domain_json(self, domain: str, include: set[str]) -> dict[str, Any]:
        emu = self.emulator
        ns_host, _ = emu.dns_address
        out: dict[str, Any] = {
            "name": domain,
            "authCode": "emulated-" + domain,
            "isTransferLocked": False,
            "registrationDate": "2020-01-01",
            "renewalDate": "2030-01-01",
            "isWhitelabel": False,
            "cancellationDate": None,
            "cancellationStatus": None,
            "isDnsOnly": False,
            "tags": [],
            "canEditDns": True,
            "hasAutoDns": False,
            "hasDnsSec": False,
            "status": "registered",
        }
        if "nameservers" in include:
            v6 = ":" in ns_host
            out["nameservers"] = [
                {
                    "hostname": f"{ns}.{domain}",
                    "ipv4": "" if v6 else ns_host,
                    "ipv6": ns_host if v6 else "",
                }
                for ns in ("ns0", "ns1")
            ]
        if "contacts" in include:
            out["contacts"] = []
        return out

    def _paginate(self, out: dict[str, Any], key: str, query: dict[str, str], path: str) -> None:
        if "pageSize" not in query:
            return
        try:
            size = int(query["pageSize"])
            page = int(query.get("page", "1"))
        except ValueError:
            raise _error(406, "pageSize and page must be positive integers") from None
        if size < 1 or page < 1:
            raise _error(406, "pageSize and page must be positive integers")
        items = out[key]
        last = max(1, math.ceil(len(items) / size))
        out[key] = items[(page - 1) * size : page * size]
        base = self.emulator.base_url + path

        def link(rel: str, p: int) -> dict[str, str]:
            return {"rel": rel, "link": f"{base}?pageSize={size}&page={p}"}

        pages: list[dict[str, str]] = []
        if page > 1:
            pages += [link("first", 1), link("previous", min(page - 1, last))]
        if page < last:
            pages += [link("next", page + 1), link("last", last)]
        out["_links"] = {"pages": pages}

    # -- /_emulator ---------------------------------------------------------------------------
    def _control(self, path: str, method: str, raw: bytes) -> tuple[int, Any]:
        emu = self.emulator
        try:
            body = self._json(raw) if method == "POST" else {}
            if not isinstance(body, dict):
                raise _error(422, "The request body must be a JSON object")
            if (path, method) == ("/_emulator/state", "GET"):
                return 200, emu.state()
            if (path, method) == ("/_emulator/stats", "GET"):
                return 200, emu.stats()
            if (path, method) == ("/_emulator/tokens", "GET"):
                return 200, {"tokens": emu.auth.tokens()}
            if (path, method) == ("/_emulator/faults", "POST"):
                return 200, emu.set_faults(body)
            if (path, method) == ("/_emulator/reset", "POST"):
                emu.reset()
                return 200, {"reset": True}
            if (path, method) == ("/_emulator/entries", "POST"):
                domain = str(body.get("domain", ""))
                try:
                    entry = entry_from_json(body.get("entry"), "entry")
                    emu.store.seed(domain, entry)
                except ZoneError as exc:
                    raise _error(exc.status, exc.message) from None
                return 201, {"domain": domain, "entry": entry_to_json(entry)}
            if (path, method) == ("/_emulator/revoke", "POST"):
                n = emu.auth.revoke(
                    jti=body.get("jti"), label=body.get("label"), all_=bool(body.get("all"))
                )
                return 200, {"revoked": n}
            if (path, method) == ("/_emulator/expire", "POST"):
                return 200, {"expired": emu.auth.expire(body.get("jti"))}
            if (path, method) == ("/_emulator/delay", "POST"):
                emu.delay = float(body.get("propagation_delay", 0.0))
                return 200, {"propagation_delay": emu.delay}
            raise _error(404, f"No control endpoint {method} {path}")
        except _Reply as reply:
            return reply.status, reply.body


def _route(path: str) -> tuple[str, dict[str, str], frozenset[str]]:
    for pattern, template, methods in _ROUTES:
        m = pattern.match(path)
        if m:
            return template, m.groupdict(), methods
    if not path.startswith("/v6/"):
        raise _error(400, f"The API version or URL is invalid: '{path}' (use /v6/...)")
    raise _error(404, f"Resource '{path}' not found")
