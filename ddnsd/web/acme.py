"""ACME over HTTP: lego ``httpreq`` and acme-dns ``/update``.

``POST {base}/present``, ``POST {base}/cleanup`` (lego ``httpreq``, base default ``/acme``)
    HTTP basic auth. Body ``{"fqdn", "value"}`` or RAW ``{"domain", "token", "keyAuth"}``
    (value = base64url(sha256(keyAuth)), name ``_acme-challenge.<domain>``; a ``*.``
    prefix is dropped). Answers 200 only after the backend returned, i.e. after every
    authoritative nameserver serves the value: set lego's ``HTTPREQ_HTTP_TIMEOUT`` above
    the propagation time (its default is 30 s).
``POST /update`` (acme-dns compatible)
    ``X-Api-User`` / ``X-Api-Key`` headers, body ``{"subdomain", "txt"}``; answers
    ``{"txt": value}`` and keeps every value younger than ``[acme] max_age`` at the
    account's name (at most 16, the oldest out first; acme-dns keeps two). An account
    is configured with an fqdn, not an acme-dns UUID, so ``subdomain`` must be the
    fqdn's first label (``_acme-challenge`` for ``_acme-challenge.example.test``) or the
    whole fqdn; anything else is 403 ``bad_subdomain``. ``txt`` must be an ACME value
    (43 base64url characters) like acme-dns demands, else 400 ``bad_txt``. Errors are
    JSON ``{"error": code, "detail": sentence}``.

Both: 400 for a malformed body (bad JSON, missing field, wrong type, invalid name or
value), 403 for a name the backend refuses (ChallengeRefused), 502 when TransIP failed
(its sentence), 503 for another ddnsd failure, 504 for a propagation timeout (naming
the lagging nameservers).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ddnsd import names
from ddnsd.acme.challenge import challenge_name, challenge_value, check_value, normalize_name
from ddnsd.config.runtime import AcmeDnsAccount, HttpreqAuth
from ddnsd.errors import ChallengeRefused, DdnsdError, PropagationTimeout, TransipError
from ddnsd.observe.metrics import Metrics
from ddnsd.web.wsgi import (
    POST,
    AuthGuard,
    HttpError,
    Response,
    Route,
    WebRequest,
    credentials_match,
    json_response,
    text,
)

log = logging.getLogger(__name__)

_ACME_TXT = re.compile(r"[A-Za-z0-9_-]{43}")  # what acme-dns accepts as a value


# What a backend error becomes, the first row that matches: (error, metric result, log
# level, word in the log line, HTTP status, error code).
_BACKEND_ERRORS: tuple[tuple[type[DdnsdError], str, int, str, int, str], ...] = (
    (ChallengeRefused, "refused", logging.WARNING, " refused", 403, "forbidden"),
    (PropagationTimeout, "timeout", logging.ERROR, "", 504, "propagation_timeout"),
    (TransipError, "error", logging.ERROR, " failed", 502, "transip_error"),
    (DdnsdError, "error", logging.ERROR, " failed", 503, "unavailable"),
)


class AcmeBackend(Protocol):
    """What the HTTP API asks of the ACME challenge service (``ChallengeService``).

    Raises ChallengeRefused for names outside what is allowed, PropagationTimeout when
    nameservers lag, TransipError when the API fails.
    """

    def present(self, fqdn: str, value: str) -> object: ...

    def cleanup(self, fqdn: str, value: str) -> object: ...

    def update_keep_newest(self, fqdn: str, value: str) -> object: ...


def _field(obj: dict[str, Any], name: str, code: str = "") -> str:
    """A string field, its name matched case-insensitively like acme-dns's Go decoder does
    (cert-manager sends ``{"SubDomain": …, "Txt": …}``)."""
    value = obj.get(name)
    if value is None:
        value = next((v for k, v in obj.items() if k.lower() == name.lower()), None)
    if not isinstance(value, str) or not value.strip():
        what = "missing" if value is None else "not a non-empty string"
        raise HttpError(400, f"field {name!r} is {what}", code or "bad_request")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") is valid JSON, not valid text
        raise HttpError(
            400, f"field {name!r} is not valid Unicode", code or "bad_request"
        ) from None
    bad = names.unsafe_character(value)
    if bad is not None:
        raise HttpError(
            400,
            f"field {name!r} contains {names.describe(bad)}; names and values hold none",
            code or "bad_request",
        )
    return value


def _httpreq_target(body: dict[str, Any]) -> tuple[str, str]:
    """(normalised fqdn, value) from an httpreq body in either mode; HttpError 400 otherwise."""
    if "fqdn" in body or "value" in body:
        fqdn, value = _field(body, "fqdn"), _field(body, "value")
    elif "domain" in body or "keyAuth" in body or "token" in body:
        domain = _field(body, "domain")
        _field(body, "token")
        key_auth = _field(body, "keyAuth")
        try:
            fqdn = challenge_name(domain)
        except ChallengeRefused as exc:
            raise HttpError(400, str(exc)) from exc
        value = challenge_value(key_auth)
    else:
        raise HttpError(
            400, 'the body needs {"fqdn", "value"} or RAW {"domain", "token", "keyAuth"}'
        )
    try:
        return normalize_name(fqdn), check_value(value)
    except ChallengeRefused as exc:
        raise HttpError(400, str(exc)) from exc


class AcmeRoutes:
    """The httpreq and acme-dns routes in front of one :class:`AcmeBackend`."""

    def __init__(
        self,
        backend: AcmeBackend,
        guard: AuthGuard,
        metrics: Metrics | None,
        httpreq: HttpreqAuth | None,
        accounts: Sequence[AcmeDnsAccount],
    ) -> None:
        self.backend = backend
        self.guard = guard
        self.metrics = metrics
        self.httpreq = httpreq
        self.accounts = tuple(accounts)

    def routes(self) -> dict[str, Route]:
        """The routes for the parts configured: httpreq when set, /update with accounts."""
        routes: dict[str, Route] = {}
        if self.httpreq is not None:
            routes[self.httpreq.base + "/present"] = Route(POST, self.present)
            routes[self.httpreq.base + "/cleanup"] = Route(POST, self.cleanup)
        if self.accounts:
            routes["/update"] = Route(POST, self.update, "json")
        return routes

    # -- lego httpreq -------------------------------------------------------------------

    def present(self, req: WebRequest) -> Response:
        return self._httpreq(req, "present", self.backend.present)

    def cleanup(self, req: WebRequest) -> Response:
        return self._httpreq(req, "cleanup", self.backend.cleanup)

    def _httpreq(
        self, req: WebRequest, action: str, call: Callable[[str, str], object]
    ) -> Response:
        assert self.httpreq is not None
        self.guard.refuse_if_locked(req)
        auth = self.httpreq
        self.guard.require_basic(req, auth.username, auth.password, "ddnsd acme")
        name, value = _httpreq_target(req.json_object())
        self._call_backend(action, name, lambda: call(name, value))
        return text(200, "ok")

    # -- acme-dns -----------------------------------------------------------------------

    def update(self, req: WebRequest) -> Response:
        self.guard.refuse_if_locked(req)
        account = self._acmedns_account(req)
        body = req.json_object()
        subdomain = _field(body, "subdomain", "bad_subdomain").removesuffix(".").lower()
        txt = _field(body, "txt", "bad_txt")
        label = account.fqdn.split(".", 1)[0]
        if subdomain not in (label, account.fqdn):
            raise HttpError(
                403,
                f"subdomain {names.shown(subdomain)} does not belong to account "
                f"{account.username!r}; send {label!r} (first label of {account.fqdn})",
                "bad_subdomain",
            )
        if not _ACME_TXT.fullmatch(txt):
            raise HttpError(
                400, "txt must be an ACME DNS-01 value: 43 base64url characters", "bad_txt"
            )
        backend, fqdn = self.backend, account.fqdn
        self._call_backend("update", fqdn, lambda: backend.update_keep_newest(fqdn, txt))
        return json_response(200, {"txt": txt})

    def _acmedns_account(self, req: WebRequest) -> AcmeDnsAccount:
        """The account whose ``X-Api-User`` / ``X-Api-Key`` the request carries; 401 if none."""
        user, key = req.header("X-Api-User"), req.header("X-Api-Key")
        challenge = [("WWW-Authenticate", 'X-Api-Key realm="ddnsd acme-dns"')]
        if not user or not key:
            raise HttpError(401, "X-Api-User and X-Api-Key are required", "forbidden", challenge)
        user_b = user.encode("latin-1", "replace")
        key_b = key.encode("latin-1", "replace")
        account: AcmeDnsAccount | None = None
        for candidate in self.accounts:  # every account compared: no early exit
            if credentials_match(user_b, key_b, candidate.username, candidate.password):
                account = account or candidate
        if account is None:
            self.guard.failed(req.client)
            log.warning("wrong acme-dns credentials from %s", req.client)
            raise HttpError(401, "wrong X-Api-User or X-Api-Key", "forbidden", challenge)
        self.guard.succeeded(req.client)
        return account

    # -- both ---------------------------------------------------------------------------

    def _call_backend(self, action: str, fqdn: str, call: Callable[[], object]) -> None:
        """Run a backend call, mapping its errors to HTTP answers and counting the result."""
        started = time.monotonic()
        result = "ok"
        try:
            call()
        except DdnsdError as exc:
            result, level, what, status, code = next(
                row[1:] for row in _BACKEND_ERRORS if isinstance(exc, row[0])
            )
            log.log(level, "acme %s %s%s: %s", action, fqdn, what, exc)
            raise HttpError(status, str(exc), code) from exc
        finally:
            seconds = time.monotonic() - started
            if self.metrics is not None:
                self.metrics.acme_challenges.labels(action=action, result=result).inc()
                if result == "ok" and action in ("present", "update"):
                    self.metrics.acme_propagation.observe(seconds)
        log.info("acme %s %s: done in %.1f s", action, fqdn, seconds)
