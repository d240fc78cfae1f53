"""The one HTTP path to TransIP: every request, ``POST /auth`` included, goes through here.

``Transport.send`` owns what every request shares: the ``requests.Session``, the timeout,
the standard headers, counting requests, the observer (metrics), the ``X-Rate-Limit-*``
headers, the request budget, and turning a request that got no answer into a reason. It
never raises for an HTTP status or a lost connection: it returns a ``TransipAnswer`` (status 0
when none arrived) and the caller decides (``TransipClient._call`` for API calls,
``KeyAuth`` for tokens).

The one thing it raises: :class:`~ddnsd.errors.ApiDeferred` when the request budget
(budget.py, shared by every ddnsd process of the login) refuses a request of the ``kind``
it is sent for; nothing is sent then. The budget is asked before every request leaves and
learns from every answer.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import requests
import urllib3
import urllib3.util.ssl_match_hostname

from ddnsd.outbound import USER_AGENT
from ddnsd.transip.budget import Budget
from ddnsd.transip.wire import RateLimit, error_message

log = logging.getLogger(__name__)

#: ``observer(method, path_template, status, seconds)``, once per request (status 0: no answer).
Observer = Callable[[str, str, int, float], None]

# Characters left unescaped in a path segment (RFC 3986 pchar minus "/"): a domain
# name never needs escaping, but "/", "?", "#" and "%" must not change the path.
_SEGMENT_SAFE = "!$&'()*+,;=:@"


def fill(template: str, params: Mapping[str, str] | None = None) -> str:
    """``template`` with its ``{name}`` placeholders filled, each value escaped as one segment."""
    return template.format(**{k: quote(v, safe=_SEGMENT_SAFE) for k, v in (params or {}).items()})


#: A certificate that failed verification: the handshake stopped, nothing was sent.
_CERTIFICATE_REFUSED = (
    ssl.SSLCertVerificationError,
    urllib3.util.ssl_match_hostname.CertificateError,
)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything behind it: ``__cause__``, ``__context__``, an exception in
    ``args`` (requests wraps urllib3's) and a ``reason`` (urllib3's ``MaxRetryError``)."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < 32:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is e for e in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return seen


def describe_failure(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """``(reason, may_have_arrived)`` for a request that got no answer.

    ``may_have_arrived`` is False only when the connection was never made (refused,
    unresolvable host, connect timeout, a certificate that failed verification): then
    TransIP cannot have seen the request. After the request was written (read timeout,
    reset, dropped connection, TLS failing while the answer was read) it may have been
    applied, which matters for POST (see ``retry``).
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connecting timed out after {timeout:g} s", False
    if isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.Timeout):
        return f"no answer within {timeout:g} s", True
    if isinstance(exc, requests.exceptions.SSLError):
        # urllib3 raises SSLError for a refused certificate (nothing sent yet) and for TLS
        # failing at any later point, when the request may have been written: only the
        # first is known never to have arrived.
        if any(isinstance(e, _CERTIFICATE_REFUSED) for e in _causes(exc)):
            return "TLS handshake failed (check the certificate)", False
        return "the TLS connection failed before an answer arrived", True
    if isinstance(exc, requests.exceptions.ConnectionError):
        cause = exc.args[0] if exc.args else None
        cause = getattr(cause, "reason", cause)  # MaxRetryError wraps the real failure
        if isinstance(cause, urllib3.exceptions.NameResolutionError):
            return "the host name could not be resolved", False
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            return "connection refused", False
        return "the connection was dropped before an answer arrived", True
    return f"the request failed ({type(exc).__name__})", True


@dataclass(frozen=True)
class TransipAnswer:
    """What one request got back.

    ``status`` 0 means no answer arrived: ``reason`` then says why, and
    ``may_have_arrived`` whether TransIP may have received (and applied) the request.
    """

    status: int
    body: bytes = field(default=b"", repr=False)  # an /auth answer holds a token
    reason: str = ""
    may_have_arrived: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """TransIP's error text (or a stand-in), or why no answer arrived."""
        if self.status == 0:
            return self.reason
        return error_message(self.status, self.body, self.reason)


class Transport:
    """Sends requests to one TransIP API URL; share one between a token source and a client.

    ``request_count`` counts every request sent through it; ``rate_limit`` holds the last
    ``X-Rate-Limit-*`` headers seen; ``budget`` (None: none) is asked before each request.
    ``observer`` exceptions are logged, never raised: a metrics bug must not break DNS
    updates.
    """

    def __init__(
        self,
        api_url: str,
        *,
        timeout: float = 10.0,
        observer: Observer | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.observer = observer
        self.budget = budget
        self.rate_limit = RateLimit()
        self._session = requests.Session()
        self._sent = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Transport({self.api_url!r})"

    @property
    def request_count(self) -> int:
        """Requests sent so far (answered or not)."""
        return self._sent

    def close(self) -> None:
        self._session.close()

    def send(
        self,
        method: str,
        template: str,
        *,
        kind: str,
        path: str | None = None,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> TransipAnswer:
        """Send one request to ``api_url + path`` (``path`` defaults to ``template``).

        ``template`` is what the observer sees; ``kind`` ("ddns"/"acme") is the work the
        budget charges it to; ``headers`` are added to the standard ones
        (``Authorization``, ``Signature``); ``Content-Type`` goes with a ``body``. Raises
        ``ApiDeferred`` (nothing sent) when the budget says wait.
        """
        sent_headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        sent_at = self.budget.take(kind) if self.budget is not None else time.time()
        with self._lock:
            self._sent += 1
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                self.api_url + (template if path is None else path),
                params=dict(query) if query else None,
                data=body,
                headers=sent_headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            self._observe(method, template, 0, time.monotonic() - started)
            reason, may_have_arrived = describe_failure(exc, self.timeout)
            return TransipAnswer(0, reason=reason, may_have_arrived=may_have_arrived)
        status = response.status_code
        self._observe(method, template, status, time.monotonic() - started)
        self.rate_limit.update(response.headers)
        if self.budget is not None:
            # an answer to /auth or a 401 comes before TransIP knows the login: its
            # headers describe no login's window
            counted = template != "/auth" and status != 401
            self.budget.answered(sent_at, status, response.headers, counted=counted)
        return TransipAnswer(status, response.content, response.reason or "")

    def _observe(self, method: str, template: str, status: int, seconds: float) -> None:
        if self.observer is None:
            return
        try:
            self.observer(method, template, status, seconds)
        except Exception:  # a metrics bug must not break DNS updates
            log.exception("the request observer failed")
