"""TransIP REST API v6 client: one ``_request`` choke point, one method per endpoint.

Every HTTP exchange goes through ``TransipClient._request``, which owns timeouts,
headers, error mapping, rate-limit tracking, metrics and retries. The endpoint methods
below only name a path and shape a body.

Retry policy (``_request``):

* 409 "DNS Entries are currently being saved", 5xx and connection failures are retried
  with bounded, jittered exponential backoff (``backoff_delay``), up to ``max_retries``.
* A POST whose answer was lost — the connection dropped or timed out after the request
  was written, or a 5xx arrived — is NOT retried: TransIP may have applied it, and a
  second POST of the same entry would either fail ("already exists") or create a
  duplicate. The error says so, and the caller re-reads the zone and decides. A 409
  "being saved" is a refusal (nothing was applied), so it is retried for POST too.
  PATCH sets an entry to a given content and DELETE removes one exact entry: repeating
  either after an unknown outcome converges on the same zone, so they are retried like
  GET. A retried DELETE that answers 404 "DNS Entry not found" after an attempt that may
  have arrived counts as done: the lost attempt removed the entry.
* 429: wait until ``X-Rate-Limit-Reset`` if that is at most ``max_rate_limit_wait``
  seconds away, then try once more; otherwise raise ``TransipRateLimited`` saying when
  the window resets.
* 401 saying the token expired or was revoked: drop the token, get a new one, retry once;
  a second refusal fails loudly.
* Getting a token (``POST /auth``) that fails with 5xx or no answer counts as an attempt
  and is retried with the same backoff: the call itself has not been sent yet.

There is deliberately no method for replacing a whole zone: ddnsd touches only the
entries it owns.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from ddnsd.errors import ConfigError, TransipRateLimited, TransipServerError, TransipUnavailable
from ddnsd.model import DnsEntry
from ddnsd.transip.auth import KeyAuth, StaticTokenAuth, TokenSource
from ddnsd.transip.wire import (
    USER_AGENT,
    RateLimit,
    TransipBadResponse,
    decode_json,
    describe_failure,
    domain_from_json,
    domain_names_from_json,
    dumps,
    entries_from_json,
    entry_to_json,
    error_message,
    is_being_saved,
    make_error,
    next_page_query,
    ping_from_json,
    token_expired_or_revoked,
)

__all__ = ["RateLimit", "TransipClient", "backoff_delay", "make_client", "rate_limit_wait"]

log = logging.getLogger(__name__)

Observer = Callable[[str, str, int, float], None]

# Characters left unescaped in a path segment (RFC 3986 pchar minus "/"): a domain
# name never needs escaping, but "/", "?", "#" and "%" must not change the path.
_SEGMENT_SAFE = "!$&'()*+,;=:@"
_MAX_PAGES = 10_000


def backoff_delay(attempt: int, base: float, cap: float, rand: float) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry).

    The ceiling doubles per attempt from ``base`` up to ``cap``; ``rand`` (0 ≤ rand < 1)
    picks a point in the upper half of it ("equal jitter"), so concurrent clients spread
    out but nobody retries immediately.
    """
    rand = min(max(rand, 0.0), 1.0)
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 0), 62))
    return ceiling * (0.5 + rand / 2)


def rate_limit_wait(reset: float | None, now: float, cap: float) -> float | None:
    """Seconds to wait for a 429 to clear, or ``None`` if it is unknown or beyond ``cap``.

    ``reset`` is ``X-Rate-Limit-Reset`` (Unix time). One second is added because the
    header has whole-second resolution.
    """
    if reset is None:
        return None
    wait = max(reset - now, 0.0) + 1.0
    return wait if wait <= cap else None


def _reset_text(reset: float | None, now: float) -> str:
    if reset is None:
        return "TransIP did not say when the rate-limit window resets; try again later"
    clock = time.strftime("%H:%M:%S", time.localtime(reset))
    return f"The rate-limit window resets at {clock} (in {max(reset - now, 0):.0f} s)"


class TransipClient:
    """The TransIP REST API v6, one method per endpoint ddnsd uses.

    ``observer(method, path_template, status, seconds)`` is called once per HTTP
    response (status 0 when no answer arrived), e.g. to feed metrics.
    ``request_count`` counts HTTP requests sent, including the token source's ``/auth``
    requests; ``rate_limit`` holds the last ``X-Rate-Limit-*`` headers (shared with the
    token source when it tracks them).
    """

    #: Backoff parameters (seconds); instances may override them (tests use small ones).
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    #: Longest wait for a 429 to clear before giving up (seconds).
    max_rate_limit_wait: float = 60.0

    def __init__(
        self,
        api_url: str,
        auth: TokenSource,
        *,
        test_mode: bool = False,
        timeout: float = 10.0,
        observer: Observer | None = None,
        max_retries: int = 4,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.auth = auth
        self.test_mode = test_mode
        self.timeout = timeout
        self.observer = observer
        self.max_retries = max(0, max_retries)
        self._session = session or requests.Session()
        shared = getattr(auth, "rate_limit", None)
        self.rate_limit: RateLimit = shared if isinstance(shared, RateLimit) else RateLimit()
        self._sent = 0
        self._count_lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep
        self._random: Callable[[], float] = random.random

    def __repr__(self) -> str:
        return f"TransipClient({self.api_url!r}, test_mode={self.test_mode})"

    @property
    def request_count(self) -> int:
        """HTTP requests sent by this client, including ``/auth`` by its token source."""
        return self._sent + int(getattr(self.auth, "request_count", 0))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> TransipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ choke point

    def _observe(self, method: str, template: str, status: int, seconds: float) -> None:
        if self.observer is None:
            return
        try:
            self.observer(method, template, status, seconds)
        except Exception:  # a metrics bug must not break DNS updates
            log.exception("the request observer failed")

    def _pause(self, attempt: int, method: str, path: str, why: str) -> None:
        delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap, self._random())
        log.warning(
            "TransIP %s %s: %s; retrying in %.1f s (retry %d of %d)",
            method,
            path,
            why,
            delay,
            attempt + 1,
            self.max_retries,
        )
        self._sleep(delay)

    def _request(
        self,
        method: str,
        template: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Send one API call (with the retries described in the module docstring).

        ``template`` is the path below the API URL with ``{name}`` placeholders filled
        from ``params``; it is what the observer sees. Returns the decoded JSON object,
        or ``None`` for an empty 201/204 answer. Raises the ``TransipError`` family.
        """
        path = template.format(
            **{k: quote(v, safe=_SEGMENT_SAFE) for k, v in (params or {}).items()}
        )
        url = self.api_url + path
        query_params = dict(query or {})
        if self.test_mode and method != "GET":
            query_params["test"] = "1"
        data = dumps(body) if body is not None else None
        attempt = 0
        renewed = False
        waited_for_rate_limit = False
        maybe_applied = False  # an earlier attempt may have reached TransIP
        while True:
            try:
                token = self.auth.token()
            except (TransipUnavailable, TransipServerError) as exc:
                if attempt >= self.max_retries:
                    raise
                # nothing of this call was sent yet, so even a POST may go on
                self._pause(attempt, "POST", "/auth", exc.message)
                attempt += 1
                continue
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
            if data is not None:
                headers["Content-Type"] = "application/json"
            with self._count_lock:
                self._sent += 1
            started = time.monotonic()
            try:
                response = self._session.request(
                    method,
                    url,
                    params=query_params or None,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                self._observe(method, template, 0, time.monotonic() - started)
                reason, may_have_arrived = describe_failure(exc, self.timeout)
                if method == "POST" and may_have_arrived:
                    raise TransipUnavailable(
                        0,
                        f"{reason}, so TransIP may or may not have applied it",
                        method=method,
                        path=path,
                        hint="Re-read the zone before trying again",
                    ) from None
                maybe_applied = maybe_applied or may_have_arrived
                if attempt < self.max_retries:
                    self._pause(attempt, method, path, reason)
                    attempt += 1
                    continue
                raise TransipUnavailable(
                    0,
                    f"{reason} (tried {attempt + 1} times)",
                    method=method,
                    path=path,
                    hint=f"Is api_url ({self.api_url}) reachable?",
                ) from None

            status = response.status_code
            self._observe(method, template, status, time.monotonic() - started)
            self.rate_limit.update(response.headers)
            if 200 <= status < 300:
                if not response.content.strip():
                    return None
                return decode_json(response.content, method=method, path=path, status=status)

            message = error_message(status, response.content, response.reason or "")
            if status == 401 and token_expired_or_revoked(message):
                if not renewed:
                    log.info("TransIP %s %s: %s; getting a new access token", method, path, message)
                    self.auth.invalidate(token)
                    renewed = True
                    continue
                raise make_error(
                    status,
                    message,
                    method=method,
                    path=path,
                    hint=(
                        "A freshly issued access token was refused as well; check the "
                        "key and the access tokens in the TransIP control panel"
                    ),
                )
            if status == 429:
                now = time.time()
                wait = rate_limit_wait(self.rate_limit.reset, now, self.max_rate_limit_wait)
                if wait is not None and not waited_for_rate_limit:
                    log.warning(
                        "TransIP %s %s: rate limit reached; waiting %.0f s for the window to reset",
                        method,
                        path,
                        wait,
                    )
                    self._sleep(wait)
                    waited_for_rate_limit = True
                    continue
                raise TransipRateLimited(
                    status,
                    message,
                    method=method,
                    path=path,
                    hint=_reset_text(self.rate_limit.reset, now),
                )
            if status >= 500 and method == "POST":
                raise make_error(
                    status,
                    message,
                    method=method,
                    path=path,
                    hint="TransIP may have applied it anyway; re-read the zone before trying again",
                )
            if (status == 409 and is_being_saved(message)) or status >= 500:
                maybe_applied = maybe_applied or status >= 500
                if attempt < self.max_retries:
                    self._pause(attempt, method, path, f"{status} {message}")
                    attempt += 1
                    continue
                raise make_error(
                    status,
                    message,
                    method=method,
                    path=path,
                    hint=f"Still failing after {attempt + 1} attempts; try again later",
                )
            if (
                method == "DELETE"
                and status == 404
                and maybe_applied
                and "dns entry not found" in message.lower()
            ):
                log.info(
                    "TransIP %s %s: %s after an earlier attempt got no answer; that attempt "
                    "removed it",
                    method,
                    path,
                    message,
                )
                return None
            raise make_error(status, message, method=method, path=path)

    def _get(
        self,
        template: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        data = self._request("GET", template, params=params, query=query)
        if data is None:
            raise TransipBadResponse(
                200, "unexpected answer: the body is empty", method="GET", path=template
            )
        return data

    # ------------------------------------------------------------------ endpoints

    def api_test(self) -> str:
        """``GET /api-test`` → ``"pong"``.

        Seed: General > ApiTest > API Test.
        """
        return ping_from_json(self._get("/api-test"), path="/api-test")

    def list_domains(self, page_size: int | None = None) -> list[str]:
        """``GET /domains``: every domain name of the account, following ``_links`` pages.

        TransIP's default page size is unlimited (one request, the cheapest for the rate
        limit), so ``page_size`` is only sent when given; a paged answer is followed via
        its ``next`` link either way.

        Seed: Domains > Domains > List all domains.
        """
        query: dict[str, str] = {"pageSize": str(page_size)} if page_size else {}
        names: list[str] = []
        seen_pages: set[tuple[tuple[str, str], ...]] = set()
        while True:
            data = self._get("/domains", query=query)
            for name in domain_names_from_json(data, path="/domains"):
                if name not in names:
                    names.append(name)
            following = next_page_query(data)
            if following is None:
                return names
            page_key = tuple(sorted(following.items()))
            if page_key in seen_pages or len(seen_pages) >= _MAX_PAGES:
                raise TransipBadResponse(
                    200,
                    "unexpected answer: the 'next' page links go round in a circle",
                    method="GET",
                    path="/domains",
                )
            seen_pages.add(page_key)
            query = following

    def get_domain(self, domain: str) -> dict[str, Any]:
        """``GET /domains/{domain}``: the domain object (``name``, ``canEditDns``, ...).

        Seed: Domains > Domains > Retrieve an existing domain.
        """
        path = "/domains/{domain}"
        return domain_from_json(self._get(path, params={"domain": domain}), path=path)

    def list_dns_entries(self, domain: str) -> list[DnsEntry]:
        """``GET /domains/{domain}/dns``: every entry of the zone, in TransIP's order.

        Seed: Domains > DNS > List all DNS entries for a domain.
        """
        path = "/domains/{domain}/dns"
        return entries_from_json(self._get(path, params={"domain": domain}), path=path)

    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``POST /domains/{domain}/dns``: add one entry beside the existing ones.

        Not retried once the request may have arrived (see the module docstring): on
        ``TransipUnavailable``/``TransipServerError`` re-read the zone.

        Seed: Domains > DNS > Add a new single DNS entry to a domain.
        """
        self._request(
            "POST",
            "/domains/{domain}/dns",
            params={"domain": domain},
            body={"dnsEntry": entry_to_json(entry)},
        )

    def update_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``PATCH /domains/{domain}/dns``: set the content of the one entry matching
        ``entry``'s name, expire and type (406 when none or several match).

        Seed: Domains > DNS > Update single DNS entry.
        """
        self._request(
            "PATCH",
            "/domains/{domain}/dns",
            params={"domain": domain},
            body={"dnsEntry": entry_to_json(entry)},
        )

    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``DELETE /domains/{domain}/dns``: remove one entry equal to ``entry`` in all four
        fields (one of them, if there are duplicates; 404 "DNS Entry not found" if none).

        Seed: Domains > DNS > Remove a DNS entry from a domain.
        """
        self._request(
            "DELETE",
            "/domains/{domain}/dns",
            params={"domain": domain},
            body={"dnsEntry": entry_to_json(entry)},
        )


def make_client(
    api_url: str,
    login: str | None,
    private_key_path: str | os.PathLike[str] | None,
    *,
    insecure_key_permissions: bool = False,
    global_key: bool = True,
    test_mode: bool = False,
    cache_dir: Path | None = None,
    timeout: float = 10.0,
    observer: Observer | None = None,
    access_token_file: str | os.PathLike[str] | None = None,
    read_only: bool = False,
    expiration_time: str = "1 hour",
    max_retries: int = 4,
) -> TransipClient:
    """A client with the token source the settings ask for.

    ``access_token_file`` (a token from the control panel) wins over the key; otherwise
    ``login`` + ``private_key_path`` sign ``/auth`` requests. Key problems raise
    ``ConfigError`` here, before any request is made.
    """
    session = requests.Session()
    auth: TokenSource
    if access_token_file is not None:
        auth = StaticTokenAuth(access_token_file)
    elif private_key_path is None:
        raise ConfigError(
            "no way to authenticate at TransIP: set private_key_file (with login) or "
            "access_token_file"
        )
    else:
        auth = KeyAuth(
            api_url,
            login or "",
            private_key_path,
            insecure_key_permissions=insecure_key_permissions,
            global_key=global_key,
            read_only=read_only,
            expiration_time=expiration_time,
            cache_dir=cache_dir,
            timeout=timeout,
            observer=observer,
            session=session,
        )
    return TransipClient(
        api_url,
        auth,
        test_mode=test_mode,
        timeout=timeout,
        observer=observer,
        max_retries=max_retries,
        session=session,
    )
