"""The WSGI application: the routes of the configured parts behind one entry.

Routes (each exists only when its part is configured; anything else is 404):

``GET /metrics``
    Prometheus text format (OpenMetrics when the scraper asks for it).
``GET /healthz``
    200 ``ok`` while the process answers.
``GET /readyz``
    200 / 503 with :meth:`Health.ready`'s reason.
``GET /``, ``GET /api/status``
    the status page and its JSON: :mod:`ddnsd.web.status` (who may look is said there).
``POST {base}/present``, ``POST {base}/cleanup``, ``POST /update``
    lego httpreq and acme-dns: :mod:`ddnsd.web.acme`.
``GET /nic/update``
    dyndns2 router push: :mod:`ddnsd.web.dyndns`.

404 for an unknown path, 405 (with ``Allow``) for a wrong method. Bad input never gets
a 500: an unexpected exception is a bug, answered with a generic 500 line while the
traceback goes to the log.

One access-log line per request on ``ddnsd.web`` (client, method, path, status, ms;
never the query string, headers or body, so never credentials). Scrapes of /metrics,
/healthz and /readyz log at DEBUG, everything else at INFO.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ddnsd.config.runtime import AcmeDnsAccount, DyndnsEndpoint, HttpreqAuth, StatusAuth
from ddnsd.observe.health import Health
from ddnsd.observe.metrics import Metrics
from ddnsd.web.acme import AcmeBackend, AcmeRoutes
from ddnsd.web.dyndns import DyndnsRoute, PushTarget
from ddnsd.web.status import StatusRoutes, StatusSource
from ddnsd.web.wsgi import (
    GET,
    AuthGuard,
    HttpError,
    Response,
    Route,
    WebRequest,
    json_response,
    text,
)

log = logging.getLogger(__name__)
access_log = logging.getLogger("ddnsd.web")  # one line per request; the modules log on its children

_QUIET_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class WebApp:
    """The WSGI application; build it with :func:`make_app`."""

    def __init__(
        self,
        metrics: Metrics | None,
        health: Health | None,
        routes: dict[str, Route],
        max_body: int,
        quiet: frozenset[str] = _QUIET_PATHS,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.max_body = max_body
        self.quiet = quiet  # paths whose successful requests log at DEBUG
        self.routes: dict[str, Route] = {"/healthz": Route(GET, self._healthz)}
        if metrics is not None:
            self.routes["/metrics"] = Route(GET, self._metrics)
        if health is not None:
            self.routes["/readyz"] = Route(GET, self._readyz)
        self.routes.update(routes)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        started = time.monotonic()
        req = WebRequest(environ, self.max_body)
        try:
            response = self._dispatch(req)
        except Exception:
            log.exception("internal error answering %s %s", req.method, req.path[:200])
            response = text(500, "internal error; the ddnsd log has the details")
        elapsed_ms = (time.monotonic() - started) * 1000
        quiet = req.path in self.quiet and response.status < 400
        access_log.log(
            logging.DEBUG if quiet else logging.INFO,
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
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", headers)
        return [b""] if req.method == "HEAD" else [response.body]

    def _dispatch(self, req: WebRequest) -> Response:
        route = self.routes.get(req.path)
        if route is None:
            return text(404, f"not found: {req.path[:200]} is not served here")
        if req.method not in route.methods:
            allow = ", ".join(sorted(route.methods))
            return text(
                405, f"method {req.method[:20]} not allowed; use {allow}", [("Allow", allow)]
            )
        try:
            return route.handler(req)
        except HttpError as exc:
            if route.style == "json":
                body = {"error": exc.code, "detail": exc.message}
                return json_response(exc.status, body, exc.headers)
            return text(exc.status, exc.message, exc.headers)

    def _healthz(self, req: WebRequest) -> Response:
        alive = self.health.alive() if self.health is not None else True
        return text(200, "ok") if alive else text(503, "not alive")

    def _readyz(self, req: WebRequest) -> Response:
        assert self.health is not None
        ready, reason = self.health.ready()
        return text(200 if ready else 503, reason)

    def _metrics(self, req: WebRequest) -> Response:
        assert self.metrics is not None
        body, content_type = self.metrics.exposition(req.header("Accept") or "")
        return Response(200, body, content_type)


def make_app(
    *,
    metrics: Metrics | None,
    health: Health | None,
    acme: AcmeBackend | None = None,
    httpreq: HttpreqAuth | None = None,
    acmedns_accounts: Sequence[AcmeDnsAccount] = (),
    dyndns: DyndnsEndpoint | None = None,
    push_store: PushTarget | None = None,
    status: StatusSource | None = None,
    status_auth: StatusAuth | None = None,
    max_body: int = 65536,
    max_auth_failures: int = 10,
    auth_lockout: float = 300.0,
    clock: Callable[[], float] = time.monotonic,
) -> WSGIApplication:
    """Build the WSGI app; parts left None (or no accounts) are not served (404).

    The ACME routes need ``acme`` (the challenge service); ``/nic/update`` needs
    ``dyndns`` and the ``push_store`` its pushes go to; ``/`` and ``/api/status`` need
    ``status`` (the document's source) and take ``status_auth``. ``max_auth_failures`` wrong
    logins from one client address within ``auth_lockout`` seconds lock that address
    out until the window ends; ``clock`` (monotonic seconds) exists for tests.
    """
    guard = AuthGuard(max_auth_failures, auth_lockout, clock)
    routes: dict[str, Route] = {}
    if acme is not None:
        routes.update(AcmeRoutes(acme, guard, metrics, httpreq, acmedns_accounts).routes())
    if dyndns is not None:
        if push_store is None:
            raise ValueError("the dyndns endpoint needs the push store its pushes go to")
        routes.update(DyndnsRoute(dyndns, push_store, guard, metrics).routes())
    if status is not None:
        routes.update(StatusRoutes(status, status_auth, guard).routes())
    return WebApp(metrics, health, routes, max_body)
