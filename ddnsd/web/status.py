"""``GET /`` (the status page) and ``GET /api/status`` (the same as JSON, docs/status.md).

Who may look:

* ``[http.status_auth]`` set: every client logs in with HTTP basic auth, loopback ones
  too (``ddnsd status`` takes the credentials from the same configuration). Wrong
  credentials count towards the listener's lock-out like every other login.
* not set: loopback clients (127.0.0.0/8, ::1) only; any other gets 403. A reverse
  proxy on the same machine makes every client look like loopback: set ``status_auth``
  (or the proxy's own auth) before publishing the page through one.

The page and the JSON hold no secret either way: notification URLs, passwords, keys and
tokens are never part of the document.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from ddnsd.config.runtime import StatusAuth
from ddnsd.web.status_page import render_page
from ddnsd.web.wsgi import GET, AuthGuard, HttpError, Response, Route, WebRequest, json_response

StatusSource = Callable[[], dict[str, Any]]

HTML = "text/html; charset=utf-8"
# Nothing but the inline style may load or run; the page works without any of it.
PAGE_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]


def is_loopback(client: str) -> bool:
    try:
        return ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


class StatusRoutes:
    """The two status routes over ``status`` (a callable returning the document)."""

    def __init__(self, status: StatusSource, auth: StatusAuth | None, guard: AuthGuard) -> None:
        self.status = status
        self.auth = auth
        self.guard = guard

    def routes(self) -> dict[str, Route]:
        return {
            "/": Route(GET, self._page),
            "/api/status": Route(GET, self._api, style="json"),
        }

    def _allow(self, req: WebRequest) -> None:
        if self.auth is not None:
            self.guard.refuse_if_locked(req)
            self.guard.require_basic(req, self.auth.username, self.auth.password, "ddnsd status")
        elif not is_loopback(req.client):
            raise HttpError(
                403,
                "the status page is served to this machine only; set [http.status_auth] "
                "to let other machines log in",
            )

    def _page(self, req: WebRequest) -> Response:
        self._allow(req)
        body = render_page(self.status()).encode("utf-8")
        return Response(200, body, HTML, list(PAGE_HEADERS))

    def _api(self, req: WebRequest) -> Response:
        self._allow(req)
        return json_response(200, self.status())
