"""The HTTP front door as one stdlib WSGI application (no framework).

Routes (each exists only when its part is configured; anything else is 404):

``GET /metrics``
    Prometheus text format (OpenMetrics when the scraper asks for it).
``GET /healthz``
    200 ``ok`` while the process answers.
``GET /readyz``
    200 / 503 with :meth:`Health.ready`'s reason.
``POST {base}/present``, ``POST {base}/cleanup`` (lego ``httpreq``, base default ``/acme``)
    HTTP basic auth. Body ``{"fqdn", "value"}`` or RAW ``{"domain", "token", "keyAuth"}``
    (value = base64url(sha256(keyAuth)), name ``_acme-challenge.<domain>``; a ``*.``
    prefix is dropped). Answers 200 only after the backend returned, i.e. after every
    authoritative nameserver serves the value: set lego's ``HTTPREQ_HTTP_TIMEOUT`` above
    the propagation time (its default is 30 s).
``POST /update`` (acme-dns compatible)
    ``X-Api-User`` / ``X-Api-Key`` headers, body ``{"subdomain", "txt"}``; answers
    ``{"txt": value}`` and keeps the two newest values at the account's name. An account
    is configured with an fqdn, not an acme-dns UUID, so ``subdomain`` must be the
    fqdn's first label (``_acme-challenge`` for ``_acme-challenge.example.test``) or the
    whole fqdn; anything else is 403 ``bad_subdomain``. ``txt`` must be an ACME value
    (43 base64url characters) like acme-dns demands, else 400 ``bad_txt``. Errors are
    JSON ``{"error": code, "detail": sentence}``.
``GET /nic/update?hostname=a,b&myip=IP`` (dyndns2 router push)
    HTTP basic auth. One answer line per hostname, in order: ``good IP`` / ``nochg IP``
    / ``nohost`` (not one of ours) / ``notfqdn`` (not a domain name, or no hostname) /
    ``numhost`` (more than 20) / ``abuse`` / ``911`` (TransIP or the round failed).
    ``myip`` may hold an IPv4 and an IPv6 address separated by a comma (FRITZ!Box
    ``<ipaddr>,<ip6addr>``), ``myipv6`` is read too; without any, the client's own
    address is used (what dyndns2 specifies; a router on the LAN has a private one,
    which the push callback then refuses). An address that is not an IP address, two
    of one family, or one the callback refuses (ValueError: private, bogon, ...) answers
    ``abuse``: dyndns2's "refused, do not retry unchanged"; the reason goes to the log.
    ``badauth`` comes with HTTP 401, ``911`` with 502 (TransIP) or 503, lock-out
    ``abuse`` with 429, ``badagent`` (a query that cannot be parsed) with 400; every
    other answer with 200.

Credentials are compared in constant time (both username and password, always both).
Missing credentials answer 401 with ``WWW-Authenticate``; wrong ones answer 401 too and
count as a failed attempt: after ``max_auth_failures`` failures from one client address
within ``auth_lockout`` seconds, that address gets 429 (dyndns2: ``abuse``) until the
window has passed. Other answers: 400 malformed body (bad JSON, missing field, wrong
type, invalid name or value), 403 a name the backend refuses (ChallengeRefused), 404
unknown path, 405 wrong method, 411 chunked body, 413 body over ``max_body`` (checked on
Content-Length before reading; the read is bounded too), 502 TransIP failed (its
sentence), 503 another ddnsd failure, 504 propagation timeout (naming the lagging
nameservers). Bad input never gets a 500: an unexpected exception is a bug, answered
with a generic 500 line while the traceback goes to the log.

One access-log line per request on ``ddnsd.web`` (client, method, path, status, ms;
never the query string, headers or body, so never credentials). Scrapes of /metrics,
/healthz and /readyz log at DEBUG, everything else at INFO.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ddnsd.acme.challenge import challenge_name, challenge_value, check_value, normalize_name
from ddnsd.errors import ChallengeRefused, DdnsdError, PropagationTimeout, TransipError
from ddnsd.observe.health import Health
from ddnsd.observe.metrics import Metrics

log = logging.getLogger("ddnsd.web")

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
MAX_HOSTNAMES = 20  # dyndns2: more than this answers "numhost"
_ACME_TXT = re.compile(r"^[A-Za-z0-9_-]{43}$")  # what acme-dns accepts as a value
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_QUIET_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class AcmeBackend(Protocol):
    """What the HTTP API asks of the ACME challenge service (``ChallengeService``).

    Raises ChallengeRefused for names outside what is allowed, PropagationTimeout when
    nameservers lag, TransipError when the API fails.
    """

    def present(self, fqdn: str, value: str) -> object: ...

    def cleanup(self, fqdn: str, value: str) -> object: ...

    def update_keep_newest(self, fqdn: str, value: str, keep: int = 2) -> object: ...


@dataclass(frozen=True)
class HttpreqSettings:
    """lego httpreq: URL base and the basic-auth credentials it must send."""

    base: str = "/acme"
    username: str = ""
    password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("httpreq needs a username and a password")
        base = "/" + self.base.strip().strip("/")
        object.__setattr__(self, "base", "" if base == "/" else base)


@dataclass(frozen=True)
class AcmeDnsAccount:
    """One acme-dns account: ``X-Api-User`` / ``X-Api-Key`` and the one name it may set."""

    username: str
    password: str = field(repr=False)
    fqdn: str

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("an acme-dns account needs a username and a password")
        object.__setattr__(self, "fqdn", self.fqdn.strip().rstrip(".").lower())


@dataclass(frozen=True)
class DyndnsSettings:
    """dyndns2 router push: credentials, the hostnames a router may update, the callback.

    ``push(hostname, ip)`` returns "good" (taken, news) or "nochg" (known already); it
    raises ValueError for an address it refuses (private, bogon, ...) and DdnsdError
    when it could not act.
    """

    username: str
    password: str = field(repr=False)
    hostnames: AbstractSet[str]
    push: Callable[[str, str], str] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("dyndns needs a username and a password")
        names = frozenset(h.strip().rstrip(".").lower() for h in self.hostnames)
        object.__setattr__(self, "hostnames", names)


# --------------------------------------------------------------------------- plumbing


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = TEXT
    headers: list[tuple[str, str]] = field(default_factory=list)


def _text(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> _Response:
    return _Response(status, (message + "\n").encode("utf-8"), TEXT, list(headers))


def _json(status: int, obj: object, headers: Iterable[tuple[str, str]] = ()) -> _Response:
    return _Response(status, json.dumps(obj).encode("utf-8"), JSON, list(headers))


class _HttpError(Exception):
    """An answer other than success; rendered as text or JSON by the route's style."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or HTTPStatus(status).phrase.lower().replace(" ", "_")
        self.headers = list(headers)


@dataclass(frozen=True)
class _Route:
    methods: frozenset[str]
    handler: Callable[[_Request], _Response]
    style: str = "text"  # how _HttpError renders: "text" or "json"


class _Request:
    def __init__(self, environ: WSGIEnvironment, max_body: int) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = str(environ.get("PATH_INFO", "") or "/")
        self.client = str(environ.get("REMOTE_ADDR", "") or "-")
        self.max_body = max_body

    def header(self, name: str) -> str | None:
        value = self.environ.get("HTTP_" + name.upper().replace("-", "_"))
        return None if value is None else str(value)

    def body(self) -> bytes:
        """The request body, at most ``max_body`` bytes; _HttpError otherwise."""
        if "chunked" in (self.header("Transfer-Encoding") or "").lower():
            raise _HttpError(411, "send the body with a Content-Length, not chunked")
        raw = str(self.environ.get("CONTENT_LENGTH", "") or "").strip()
        if not raw:
            return b""
        if not (raw.isascii() and raw.isdigit()):  # int() would take "²" for a digit
            raise _HttpError(400, f"Content-Length {raw[:20]!r} is not a number of bytes")
        length = int(raw)
        if length > self.max_body:
            raise _HttpError(
                413, f"the body is {length} bytes; at most {self.max_body} are accepted"
            )
        stream = self.environ["wsgi.input"]
        chunks: list[bytes] = []
        remaining = length
        try:
            while remaining > 0:
                chunk = stream.read(min(remaining, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError as exc:
            raise _HttpError(400, "the body could not be read completely") from exc
        if remaining > 0:
            raise _HttpError(400, f"the body ended {remaining} bytes before its Content-Length")
        return b"".join(chunks)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; 400 ``malformed_json_payload`` otherwise."""
        data = self.body()
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise _HttpError(400, "the body is not valid JSON", "malformed_json_payload") from exc
        if not isinstance(obj, dict):
            raise _HttpError(400, "the body must be a JSON object", "malformed_json_payload")
        return obj


def _basic_credentials(header: str | None) -> tuple[bytes, bytes] | None:
    """(username, password) from ``Authorization: Basic ...``; None when absent or garbled."""
    if not header:
        return None
    scheme, _, param = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(param.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user, password


def _matches(user: bytes, password: bytes, want_user: str, want_password: str) -> bool:
    """Constant-time check of both parts; always compares both."""
    ok_user = hmac.compare_digest(user, want_user.encode("utf-8"))
    ok_password = hmac.compare_digest(password, want_password.encode("utf-8"))
    return ok_user & ok_password


def _field(obj: dict[str, Any], name: str, code: str = "") -> str:
    """A string field, its name matched case-insensitively like acme-dns's Go decoder does
    (cert-manager sends ``{"SubDomain": …, "Txt": …}``)."""
    value = obj.get(name)
    if value is None:
        value = next((v for k, v in obj.items() if k.lower() == name.lower()), None)
    if not isinstance(value, str) or not value.strip():
        what = "missing" if value is None else "not a non-empty string"
        raise _HttpError(400, f"field {name!r} is {what}", code or "bad_request")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") is valid JSON, not valid text
        raise _HttpError(
            400, f"field {name!r} is not valid Unicode", code or "bad_request"
        ) from None
    return value


class _AuthGuard:
    """Counts wrong credentials per client address and locks out repeat offenders."""

    def __init__(self, max_failures: int, window: float, clock: Callable[[], float]) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (count, first at)

    def locked_for(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: not locked out)."""
        now = self._clock()
        with self._lock:
            count, first = self._failures.get(client, (0, now))
            if now - first >= self.window:
                self._failures.pop(client, None)
                return 0.0
            return first + self.window - now if count >= self.max_failures else 0.0

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > 4096:  # forget stale entries; bounded memory
                stale = [c for c, (_, t) in self._failures.items() if now - t >= self.window]
                for c in stale:
                    del self._failures[c]
            count, first = self._failures.get(client, (0, now))
            if now - first >= self.window:
                count, first = 0, now
            self._failures[client] = (count + 1, first)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def _valid_hostname(name: str) -> bool:
    labels = name.split(".")
    return (
        len(labels) >= 2 and len(name) <= 253 and all(_HOST_LABEL.match(label) for label in labels)
    )


# --------------------------------------------------------------------------- the app


class WebApp:
    """The WSGI application; build it with :func:`make_app`."""

    def __init__(
        self,
        *,
        metrics: Metrics | None,
        health: Health | None,
        acme: AcmeBackend | None,
        httpreq: HttpreqSettings | None,
        acmedns_accounts: list[AcmeDnsAccount],
        dyndns: DyndnsSettings | None,
        max_body: int,
        max_auth_failures: int,
        auth_lockout: float,
        clock: Callable[[], float],
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.acme = acme
        self.httpreq = httpreq
        self.accounts = list(acmedns_accounts)
        self.dyndns = dyndns
        self.max_body = max_body
        self.guard = _AuthGuard(max_auth_failures, auth_lockout, clock)
        get = frozenset({"GET", "HEAD"})
        post = frozenset({"POST"})
        routes: dict[str, _Route] = {"/healthz": _Route(get, self._healthz)}
        if metrics is not None:
            routes["/metrics"] = _Route(get, self._metrics)
        if health is not None:
            routes["/readyz"] = _Route(get, self._readyz)
        if acme is not None and httpreq is not None:
            routes[httpreq.base + "/present"] = _Route(post, self._httpreq_present)
            routes[httpreq.base + "/cleanup"] = _Route(post, self._httpreq_cleanup)
        if acme is not None and self.accounts:
            routes["/update"] = _Route(post, self._acmedns_update, "json")
        if dyndns is not None:
            routes["/nic/update"] = _Route(frozenset({"GET"}), self._dyndns_update)
        self.routes = routes

    # -- WSGI entry ---------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        started = time.monotonic()
        req = _Request(environ, self.max_body)
        try:
            response = self._dispatch(req)
        except Exception:
            log.exception("internal error answering %s %s", req.method, req.path[:200])
            response = _text(500, "internal error; the ddnsd log has the details")
        elapsed_ms = (time.monotonic() - started) * 1000
        level = (
            logging.DEBUG if req.path in _QUIET_PATHS and response.status < 400 else logging.INFO
        )
        log.log(
            level,
            "%s %s %s %d %.0f ms",
            req.client,
            req.method,
            req.path[:200],
            response.status,
            elapsed_ms,
        )
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", "no-store"),
            *response.headers,
        ]
        status = f"{response.status} {HTTPStatus(response.status).phrase}"
        start_response(status, headers)
        return [b""] if req.method == "HEAD" else [response.body]

    def _dispatch(self, req: _Request) -> _Response:
        route = self.routes.get(req.path)
        if route is None:
            return _text(404, f"not found: {req.path[:200]} is not served here")
        if req.method not in route.methods:
            allow = ", ".join(sorted(route.methods))
            return _text(
                405, f"method {req.method[:20]} not allowed; use {allow}", [("Allow", allow)]
            )
        try:
            return route.handler(req)
        except _HttpError as exc:
            if route.style == "json":
                return _json(exc.status, {"error": exc.code, "detail": exc.message}, exc.headers)
            return _text(exc.status, exc.message, exc.headers)

    # -- observability ------------------------------------------------------------------

    def _healthz(self, req: _Request) -> _Response:
        alive = self.health.alive() if self.health is not None else True
        return _text(200, "ok") if alive else _text(503, "not alive")

    def _readyz(self, req: _Request) -> _Response:
        assert self.health is not None
        ready, reason = self.health.ready()
        return _text(200 if ready else 503, reason)

    def _metrics(self, req: _Request) -> _Response:
        assert self.metrics is not None
        body, content_type = self.metrics.exposition(req.header("Accept") or "")
        return _Response(200, body, content_type)

    # -- credentials --------------------------------------------------------------------

    def _check_lockout(self, req: _Request) -> None:
        wait = self.guard.locked_for(req.client)
        if wait > 0:
            raise _HttpError(
                429,
                f"too many failed logins from {req.client}; try again in {int(wait) + 1} s",
                "too_many_attempts",
                [("Retry-After", str(int(wait) + 1))],
            )

    def _require_basic(self, req: _Request, username: str, password: str, realm: str) -> None:
        """Return when the request carries these credentials, else raise a 401 challenge.

        Wrong credentials count against the client's address; missing ones do not (some
        clients send credentials only after the challenge).
        """
        challenge = [("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"')]
        creds = _basic_credentials(req.header("Authorization"))
        if creds is None:
            raise _HttpError(401, "authentication required (HTTP basic auth)", headers=challenge)
        if not _matches(creds[0], creds[1], username, password):
            self.guard.failed(req.client)
            log.warning("wrong credentials from %s for %s", req.client, req.path[:200])
            raise _HttpError(401, "wrong username or password", headers=challenge)
        self.guard.succeeded(req.client)

    # -- lego httpreq -------------------------------------------------------------------

    def _httpreq_present(self, req: _Request) -> _Response:
        return self._httpreq(req, "present")

    def _httpreq_cleanup(self, req: _Request) -> _Response:
        return self._httpreq(req, "cleanup")

    def _httpreq(self, req: _Request, action: str) -> _Response:
        assert self.httpreq is not None and self.acme is not None
        self._check_lockout(req)
        self._require_basic(req, self.httpreq.username, self.httpreq.password, "ddnsd acme")
        body = req.json_object()
        if "fqdn" in body or "value" in body:
            fqdn, value = _field(body, "fqdn"), _field(body, "value")
        elif "domain" in body or "keyAuth" in body or "token" in body:
            domain = _field(body, "domain")
            _field(body, "token")
            key_auth = _field(body, "keyAuth")
            try:
                fqdn = challenge_name(domain)
            except ChallengeRefused as exc:
                raise _HttpError(400, str(exc)) from exc
            value = challenge_value(key_auth)
        else:
            raise _HttpError(
                400, 'the body needs {"fqdn", "value"} or RAW {"domain", "token", "keyAuth"}'
            )
        try:
            name = normalize_name(fqdn)
            text = check_value(value)
        except ChallengeRefused as exc:
            raise _HttpError(400, str(exc)) from exc
        backend = self.acme.present if action == "present" else self.acme.cleanup
        self._call_backend(action, name, lambda: backend(name, text))
        return _text(200, "ok")

    def _call_backend(self, action: str, fqdn: str, call: Callable[[], object]) -> None:
        """Run a backend call, mapping its errors to HTTP answers and counting the result."""
        started = time.monotonic()
        result = "ok"
        try:
            call()
        except ChallengeRefused as exc:
            result = "refused"
            log.warning("acme %s %s refused: %s", action, fqdn, exc)
            raise _HttpError(403, str(exc), "forbidden") from exc
        except PropagationTimeout as exc:
            result = "timeout"
            log.error("acme %s %s: %s", action, fqdn, exc)
            raise _HttpError(504, str(exc), "propagation_timeout") from exc
        except TransipError as exc:
            result = "error"
            log.error("acme %s %s failed: %s", action, fqdn, exc)
            raise _HttpError(502, str(exc), "transip_error") from exc
        except DdnsdError as exc:
            result = "error"
            log.error("acme %s %s failed: %s", action, fqdn, exc)
            raise _HttpError(503, str(exc), "unavailable") from exc
        finally:
            seconds = time.monotonic() - started
            if self.metrics is not None:
                self.metrics.acme_challenges.labels(action=action, result=result).inc()
                if result == "ok" and action in ("present", "update"):
                    self.metrics.acme_propagation.observe(seconds)
        log.info("acme %s %s: done in %.1f s", action, fqdn, seconds)

    # -- acme-dns -----------------------------------------------------------------------

    def _acmedns_update(self, req: _Request) -> _Response:
        assert self.acme is not None
        self._check_lockout(req)
        user, key = req.header("X-Api-User"), req.header("X-Api-Key")
        challenge = [("WWW-Authenticate", 'X-Api-Key realm="ddnsd acme-dns"')]
        if not user or not key:
            raise _HttpError(401, "X-Api-User and X-Api-Key are required", "forbidden", challenge)
        user_b = user.encode("latin-1", "replace")
        key_b = key.encode("latin-1", "replace")
        account: AcmeDnsAccount | None = None
        for candidate in self.accounts:  # every account compared: no early exit
            if _matches(user_b, key_b, candidate.username, candidate.password) and not account:
                account = candidate
        if account is None:
            self.guard.failed(req.client)
            log.warning("wrong acme-dns credentials from %s", req.client)
            raise _HttpError(401, "wrong X-Api-User or X-Api-Key", "forbidden", challenge)
        self.guard.succeeded(req.client)
        body = req.json_object()
        subdomain = _field(body, "subdomain", "bad_subdomain").strip().rstrip(".").lower()
        txt = _field(body, "txt", "bad_txt")
        label = account.fqdn.split(".", 1)[0]
        if subdomain not in (label, account.fqdn):
            raise _HttpError(
                403,
                f"subdomain {subdomain[:80]!r} does not belong to account "
                f"{account.username!r}; send {label!r} (first label of {account.fqdn})",
                "bad_subdomain",
            )
        if not _ACME_TXT.match(txt):
            raise _HttpError(
                400, "txt must be an ACME DNS-01 value: 43 base64url characters", "bad_txt"
            )
        acme = self.acme
        fqdn = account.fqdn
        self._call_backend("update", fqdn, lambda: acme.update_keep_newest(fqdn, txt, keep=2))
        return _json(200, {"txt": txt})

    # -- dyndns2 ------------------------------------------------------------------------

    def _dyndns_update(self, req: _Request) -> _Response:
        assert self.dyndns is not None
        settings = self.dyndns
        wait = self.guard.locked_for(req.client)
        if wait > 0:
            return self._dyndns_answer(429, ["abuse"], [("Retry-After", str(int(wait) + 1))])
        try:
            self._require_basic(req, settings.username, settings.password, "ddnsd dyndns")
        except _HttpError as exc:
            return self._dyndns_answer(401, ["badauth"], exc.headers)
        try:
            query = parse_qs(
                str(req.environ.get("QUERY_STRING", "")),
                keep_blank_values=True,
                max_num_fields=64,
            )
        except ValueError:
            return self._dyndns_answer(400, ["badagent"])
        hosts = [h.strip() for v in query.get("hostname", []) for h in v.split(",") if h.strip()]
        if not hosts:
            return self._dyndns_answer(200, ["notfqdn"])
        if len(hosts) > MAX_HOSTNAMES:
            return self._dyndns_answer(200, ["numhost"])
        raw_ips = [
            part.strip()
            for key in ("myip", "myipv6")
            for value in query.get(key, [])
            for part in value.split(",")
            if part.strip()
        ]
        if not raw_ips and req.client != "-":
            raw_ips = [req.client]
        addresses, refusal = self._dyndns_addresses(raw_ips)
        lines: list[str] = []
        failure = 0
        for host in hosts:
            name = host.rstrip(".").lower()
            if not _valid_hostname(name):
                lines.append("notfqdn")
            elif name not in settings.hostnames:
                lines.append("nohost")
            elif refusal:
                log.warning("dyndns push for %s refused: %s", name, refusal)
                lines.append("abuse")
            else:
                line, status = self._dyndns_push(name, addresses)
                lines.append(line)
                failure = max(failure, status)
        return self._dyndns_answer(failure or 200, lines)

    @staticmethod
    def _dyndns_addresses(raw: list[str]) -> tuple[list[str], str]:
        """(canonical addresses, refusal reason or "")."""
        if not raw:
            return [], "no address given and the client address is unknown"
        found: dict[int, str] = {}
        for text in raw:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                return [], f"myip {text[:60]!r} is not an IP address; check the router's URL"
            if address.version in found and found[address.version] != str(address):
                return [], f"myip holds two IPv{address.version} addresses; send one per family"
            found[address.version] = str(address)
        return [found[v] for v in sorted(found)], ""

    def _dyndns_push(self, name: str, addresses: list[str]) -> tuple[str, int]:
        """(answer line, HTTP status for a failure or 0) for one of our hostnames."""
        assert self.dyndns is not None
        shown = ",".join(addresses)
        words: list[str] = []
        for address in addresses:
            try:
                answer = self.dyndns.push(name, address)
            except ValueError as exc:
                log.warning("dyndns push %s %s refused: %s", name, address, exc)
                return "abuse", 0
            except TransipError as exc:
                log.error("dyndns push %s %s failed: %s", name, address, exc)
                return "911", 502
            except DdnsdError as exc:
                log.error("dyndns push %s %s failed: %s", name, address, exc)
                return "911", 503
            if answer not in ("good", "nochg"):
                raise RuntimeError(f"dyndns push callback answered {answer!r}, not good/nochg")
            words.append(answer)
        word = "good" if "good" in words else "nochg"
        log.info("dyndns push %s %s: %s", name, shown, word)
        return f"{word} {shown}", 0

    def _dyndns_answer(
        self, status: int, lines: list[str], headers: Iterable[tuple[str, str]] = ()
    ) -> _Response:
        if self.metrics is not None:
            for line in lines:
                self.metrics.dyndns_pushes.labels(result=line.split(" ", 1)[0]).inc()
        return _text(status, "\n".join(lines), headers)


def make_app(
    *,
    metrics: Metrics | None,
    health: Health | None,
    acme: AcmeBackend | None = None,
    httpreq: HttpreqSettings | None = None,
    acmedns_accounts: list[AcmeDnsAccount] | None = None,
    dyndns: DyndnsSettings | None = None,
    max_body: int = 65536,
    max_auth_failures: int = 10,
    auth_lockout: float = 300.0,
    clock: Callable[[], float] = time.monotonic,
) -> WSGIApplication:
    """Build the WSGI app; parts left None (or no accounts) are not served (404).

    ``max_auth_failures`` wrong logins from one client address within ``auth_lockout``
    seconds lock that address out until the window ends; ``clock`` (monotonic seconds)
    exists for tests.
    """
    return WebApp(
        metrics=metrics,
        health=health,
        acme=acme,
        httpreq=httpreq,
        acmedns_accounts=list(acmedns_accounts or []),
        dyndns=dyndns,
        max_body=max_body,
        max_auth_failures=max_auth_failures,
        auth_lockout=auth_lockout,
        clock=clock,
    )
