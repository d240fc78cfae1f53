"""The one HTTP path to TransIP: every request, ``POST /auth`` included, goes through here.

``Transport.send`` owns what every request shares: the ``requests.Session``, the timeout,
the standard headers, counting requests, the observer (metrics), the ``X-Rate-Limit-*``
headers, and turning a request that got no answer into a reason. It never raises for an
HTTP status or a lost connection: it returns an ``Answer`` (status 0 when none arrived)
and the caller decides (``retry.decide`` for API calls, ``KeyAuth`` for tokens).

Two hooks mark the places a request budget shared across processes would plug in:
``_before_sending`` runs before every request leaves, ``_answered`` after every answer
that carried headers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from ddnsd.transip.wire import USER_AGENT, RateLimit, describe_failure, error_message

log = logging.getLogger(__name__)

#: ``observer(method, path_template, status, seconds)``, once per request (status 0: no answer).
Observer = Callable[[str, str, int, float], None]

# Characters left unescaped in a path segment (RFC 3986 pchar minus "/"): a domain
# name never needs escaping, but "/", "?", "#" and "%" must not change the path.
_SEGMENT_SAFE = "!$&'()*+,;=:@"


def fill(template: str, params: Mapping[str, str] | None = None) -> str:
    """``template`` with its ``{name}`` placeholders filled, each value escaped as one segment."""
    return template.format(**{k: quote(v, safe=_SEGMENT_SAFE) for k, v in (params or {}).items()})


@dataclass(frozen=True)
class Answer:
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
    ``X-Rate-Limit-*`` headers seen. ``observer`` exceptions are logged, never raised: a
    metrics bug must not break DNS updates.
    """

    def __init__(
        self,
        api_url: str,
        *,
        timeout: float = 10.0,
        observer: Observer | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.observer = observer
        self.rate_limit = RateLimit()
        self._session = session or requests.Session()
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
        path: str | None = None,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request to ``api_url + path`` (``path`` defaults to ``template``).

        ``template`` is what the observer sees; ``headers`` are added to the standard ones
        (``Authorization``, ``Signature``); ``Content-Type`` goes with a ``body``.
        """
        sent_headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        self._before_sending()
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
            return Answer(0, reason=reason, may_have_arrived=may_have_arrived)
        self._observe(method, template, response.status_code, time.monotonic() - started)
        self._answered(response.headers)
        return Answer(response.status_code, response.content, response.reason or "")

    def _before_sending(self) -> None:
        """Runs before every request leaves (the place to ask a request budget)."""
        with self._lock:
            self._sent += 1

    def _answered(self, headers: Mapping[str, str]) -> None:
        """Runs after every answer (the place to feed a request budget)."""
        self.rate_limit.update(headers)

    def _observe(self, method: str, template: str, status: int, seconds: float) -> None:
        if self.observer is None:
            return
        try:
            self.observer(method, template, status, seconds)
        except Exception:  # a metrics bug must not break DNS updates
            log.exception("the request observer failed")
