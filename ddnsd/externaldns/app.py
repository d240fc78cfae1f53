"""The webhook API external-dns (``--provider=webhook``) calls, as a WSGI app.

Every answer but ``/healthz`` carries ``Content-Type:
application/external.dns.webhook+json;version=1`` and ``Vary: Content-Type``, which
external-dns compares byte for byte.

``GET /``
    200, the domain filter ``{"include": [...]}``.
``GET /records``
    200, every RRset of the managed zones as one endpoint each.
``POST /adjustendpoints``
    200, the desired endpoints as ``/records`` will report them.
``POST /records``
    204 once the plan is applied. 500 (external-dns retries at its next sync) when part of
    it is not: a refused entry, TransIP trouble, the rate limit. 400 only for a body
    external-dns would never send; nothing is written then. Any other 4xx would make
    external-dns exit.
``GET /healthz``
    200 ``ok``.

Answered calls log at DEBUG (external-dns makes two or three a minute); each write at
TransIP logs at INFO and every failure at ERROR.
"""

from __future__ import annotations

import json
import logging
from wsgiref.types import WSGIApplication

from ddnsd.errors import DdnsdError
from ddnsd.externaldns.mapping import (
    MEDIA_TYPE,
    BadRequest,
    changes_from_json,
    endpoint_to_json,
    endpoints_from_json,
)
from ddnsd.externaldns.provider import Provider
from ddnsd.web.app import WebApp
from ddnsd.web.wsgi import GET, POST, HttpError, Response, Route, WebRequest

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024  # a plan for thousands of records
_VARY = [("Vary", "Content-Type")]


def _answer(status: int, obj: object) -> Response:
    body = b"" if status == 204 else json.dumps(obj).encode("utf-8")
    return Response(status, body, MEDIA_TYPE, list(_VARY))


def _body(req: WebRequest) -> object:
    data = req.body()
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HttpError(400, "the body is not valid JSON") from exc


class Routes:
    """The webhook routes in front of one :class:`Provider`."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def routes(self) -> dict[str, Route]:
        return {
            "/": Route(GET, self.negotiate),
            "/records": Route(GET | POST, self.records),
            "/adjustendpoints": Route(POST, self.adjust),
        }

    def _soft(self, what: str, exc: DdnsdError) -> HttpError:
        log.error("external-dns %s failed: %s", what, exc)
        return HttpError(500, f"{what} failed: {exc}")

    def negotiate(self, req: WebRequest) -> Response:
        try:
            return _answer(200, self.provider.domain_filter())
        except DdnsdError as exc:
            raise self._soft("negotiation", exc) from exc

    def records(self, req: WebRequest) -> Response:
        if req.method == "POST":
            return self.apply(req)
        try:
            found = self.provider.records()
        except DdnsdError as exc:
            raise self._soft("reading the records", exc) from exc
        return _answer(200, [endpoint_to_json(ep) for ep in found])

    def adjust(self, req: WebRequest) -> Response:
        try:
            desired = endpoints_from_json(_body(req))
        except BadRequest as exc:
            raise HttpError(400, str(exc)) from exc
        return _answer(200, [endpoint_to_json(ep) for ep in self.provider.adjust(desired)])

    def apply(self, req: WebRequest) -> Response:
        try:
            changes = changes_from_json(_body(req))
        except BadRequest as exc:
            raise HttpError(400, str(exc)) from exc
        try:
            self.provider.apply(changes)
        except DdnsdError as exc:
            raise self._soft("applying the changes", exc) from exc
        return _answer(204, None)


def make_app(provider: Provider) -> WSGIApplication:
    """The webhook API of ``provider`` (with ``/healthz``)."""
    routes = Routes(provider).routes()
    # external-dns calls every minute: its answered calls log at DEBUG (each write and
    # every failure is logged by the provider)
    return WebApp(None, None, routes, MAX_BODY, quiet=frozenset([*routes, "/healthz"]))
