"""TransIP REST API v6 client: one method per endpoint, and ``_call``, where every API
call goes out.

An endpoint method names a path and shapes a body; ``TransipClient._call`` does the rest
in one loop: a token from the ``TokenSource``, one request through the shared
``transport.Transport`` (session, timeout, headers, observer, rate-limit headers, request
count, request budget), and ``retry.decide`` on what it got (the retry rules are written
down there) — log, sleep, renew the token, raise, or return the answer.

Every client charges its requests to one kind of work ("ddns" or "acme"), given when it
is made; ``for_kind`` is a view of the same client (one transport, token and budget)
whose requests are another kind's, so the reserve kept for certificates is used by ACME
alone. The kind goes with each request, the ``/auth`` a call may need included. A 429,
or a budget that says wait, ends the call with :class:`~ddnsd.errors.ApiDeferred`
(``until``: when TransIP may be asked again); the caller decides whether to wait or to
defer its work.

There is deliberately no method for replacing a whole zone: ddnsd touches only the
entries it owns.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict, Unpack

from ddnsd.errors import ApiDeferred, ConfigError, TransipError
from ddnsd.model import DnsEntry
from ddnsd.transip.auth import KeyAuth, StaticTokenAuth, TokenSource
from ddnsd.transip.budget import Budget
from ddnsd.transip.ledger import MARGIN, NO_RESET_WAIT
from ddnsd.transip.retry import (
    Done,
    Exchange,
    Fail,
    Policy,
    Progress,
    Renew,
    Retry,
    advance,
    decide,
    reset_text,
)
from ddnsd.transip.transport import Observer, Transport, fill
from ddnsd.transip.wire import (
    RateLimit,
    TransipBadResponse,
    decode_json,
    domain_names_from_json,
    dumps,
    entries_from_json,
    entry_to_json,
    make_error,
    next_page_query,
    ping_from_json,
)

__all__ = ["TransipClient", "make_client"]

log = logging.getLogger(__name__)

_MAX_PAGES = 10_000
_DNS = "/domains/{domain}/dns"


class ClientOptions(TypedDict, total=False):
    """The keywords of ``TransipClient`` that ``make_client`` passes through."""

    test_mode: bool
    max_retries: int
    backoff_base: float
    backoff_cap: float
    sleep: Callable[[float], None]
    rand: Callable[[], float]
    clock: Callable[[], float]


class TransipClient:
    """The TransIP REST API v6, one method per endpoint ddnsd uses.

    Build it with the ``Transport`` its token source uses, so ``request_count`` (every
    request, ``/auth`` included) and ``rate_limit`` (the last ``X-Rate-Limit-*`` headers)
    cover both. ``kind`` ("ddns"/"acme") is the work its requests are charged to in the
    budget. ``backoff_base``/``backoff_cap`` (seconds) shape the retry backoff; a 429 is
    never waited for here (``ApiDeferred``: the caller decides). ``sleep`` waits between
    attempts, ``rand`` draws the backoff jitter and ``clock`` is the wall clock the
    rate-limit reset is compared with (all three there for tests).
    """

    def __init__(
        self,
        transport: Transport,
        auth: TokenSource,
        *,
        kind: str,
        test_mode: bool = False,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.transport = transport
        self.auth = auth
        self.kind = kind
        self.test_mode = test_mode
        self.policy = Policy(
            max_retries=max(0, max_retries),
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            api_url=transport.api_url,
        )
        self._sleep = sleep
        self._rand = rand
        self._clock = clock

    def __repr__(self) -> str:
        return f"TransipClient({self.api_url!r}, test_mode={self.test_mode}, kind={self.kind!r})"

    def for_kind(self, kind: str) -> TransipClient:
        """This client (same transport, token and budget) charging its requests to ``kind``."""
        view = copy.copy(self)
        view.kind = kind
        return view

    def budget_until(self, count: int = 1) -> float | None:
        """None when ``count`` requests of this client's kind fit in the budget now; else
        the time (Unix) they may. Without a budget: always None."""
        budget = self.transport.budget
        return None if budget is None else budget.until(self.kind, count)

    @property
    def api_url(self) -> str:
        return self.transport.api_url

    @property
    def max_retries(self) -> int:
        return self.policy.max_retries

    @property
    def rate_limit(self) -> RateLimit:
        return self.transport.rate_limit

    @property
    def request_count(self) -> int:
        """HTTP requests sent through the transport, including ``/auth``."""
        return self.transport.request_count

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> TransipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests

    def _call(
        self,
        method: str,
        template: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one API call until it is done or fails for good; writes carry ``?test=1``
        in test mode.

        ``template`` is the path below the API URL with ``{name}`` placeholders filled
        from ``params``; it is what the observer sees. Returns the decoded JSON object
        (``{}`` for a write's empty 201/204 answer; a GET's must hold one). Raises the
        ``TransipError`` family (``ApiDeferred`` for a 429 or a budget that says wait).
        """
        path = fill(template, params)
        sent_query = dict(query or {})
        if self.test_mode and method != "GET":
            sent_query["test"] = "1"
        data = dumps(body) if body is not None else None
        progress = Progress()
        while True:
            try:
                token = self.auth.token(self.kind)
            except ApiDeferred:
                raise
            except TransipError as exc:
                if exc.status == 429:
                    raise self._silenced(exc.message, "POST", "/auth") from None
                got = Exchange(method, exc.status, exc.message, for_token=True)
                decision = decide(got, progress, self.policy, now=self._clock(), rand=self._rand())
                if not isinstance(decision, Retry):
                    raise  # the token source's own error, with its final text
                self._pause(decision, "POST", "/auth", progress)
                progress = advance(progress, got, decision)
                continue
            answer = self.transport.send(
                method,
                template,
                kind=self.kind,
                path=path,
                query=sent_query,
                body=data,
                headers={"Authorization": f"Bearer {token}"},
            )
            got = Exchange(
                method,
                answer.status,
                answer.message,
                may_have_arrived=answer.may_have_arrived,
                reset=self.transport.rate_limit.reset,
            )
            decision = decide(got, progress, self.policy, now=self._clock(), rand=self._rand())
            if isinstance(decision, Done):
                if decision.gone_already:
                    log.info(
                        "TransIP %s %s: %s after an earlier attempt got no answer; that "
                        "attempt removed it",
                        method,
                        path,
                        got.message,
                    )
                    return {}
                if answer.body.strip():
                    return decode_json(answer.body, method=method, path=path, status=answer.status)
                if method == "GET":
                    raise TransipBadResponse(
                        answer.status,
                        "unexpected answer: the body is empty",
                        method=method,
                        path=template,
                    )
                return {}
            if isinstance(decision, Fail):
                if decision.status == 429:
                    raise self._silenced(decision.message, method, path)
                raise make_error(
                    decision.status, decision.message, method=method, path=path, hint=decision.hint
                )
            if isinstance(decision, Renew):
                log.info("TransIP %s %s: %s; getting a new access token", method, path, got.message)
                self.auth.invalidate(token)
            else:
                self._pause(decision, method, path, progress)
            progress = advance(progress, got, decision)

    def _silenced(self, message: str, method: str, path: str) -> ApiDeferred:
        """A 429: the call ends here; ``until`` is the reset (the budget's circuit too)."""
        now, reset = self._clock(), self.transport.rate_limit.reset
        until = reset + MARGIN if reset is not None else now + NO_RESET_WAIT
        return ApiDeferred(
            until, self.kind, message, method=method, path=path, hint=reset_text(reset, now)
        )

    def _pause(self, retry: Retry, method: str, path: str, progress: Progress) -> None:
        log.warning(
            "TransIP %s %s: %s; retrying in %.1f s (retry %d of %d)",
            method,
            path,
            retry.why,
            retry.delay,
            progress.attempt + 1,
            self.policy.max_retries,
        )
        self._sleep(retry.delay)

    # ------------------------------------------------------------------ endpoints

    def api_test(self) -> str:
        """``GET /api-test`` → ``"pong"``.

        Seed: General > ApiTest > API Test.
        """
        return ping_from_json(self._call("GET", "/api-test"), path="/api-test")

    def list_domains(self, page_size: int | None = None) -> list[str]:
        """``GET /domains``: every domain name of the account, following ``_links`` pages.

        TransIP's default page size is unlimited (one request, the cheapest for the rate
        limit), so ``page_size`` is only sent when given; a paged answer is followed via
        its ``next`` link either way.

        Seed: Domains > Domains > List all domains.
        """
        query: dict[str, str] = {"pageSize": str(page_size)} if page_size else {}
        return _every_page(lambda q: self._call("GET", "/domains", query=q), query)

    def list_dns_entries(self, domain: str) -> list[DnsEntry]:
        """``GET /domains/{domain}/dns``: every entry of the zone, in TransIP's order.

        Seed: Domains > DNS > List all DNS entries for a domain.
        """
        data = self._call("GET", _DNS, params={"domain": domain})
        return entries_from_json(data, path=_DNS)

    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``POST /domains/{domain}/dns``: add one entry beside the existing ones.

        Not retried once the request may have arrived (see ``retry``): on
        ``TransipUnavailable``/``TransipServerError`` re-read the zone.

        Seed: Domains > DNS > Add a new single DNS entry to a domain.
        """
        self._call("POST", _DNS, params={"domain": domain}, body={"dnsEntry": entry_to_json(entry)})

    def update_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``PATCH /domains/{domain}/dns``: set the content of the one entry matching
        ``entry``'s name, expire and type (406 when none or several match).

        Seed: Domains > DNS > Update single DNS entry.
        """
        self._call(
            "PATCH", _DNS, params={"domain": domain}, body={"dnsEntry": entry_to_json(entry)}
        )

    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``DELETE /domains/{domain}/dns``: remove one entry equal to ``entry`` in all four
        fields (one of them, if there are duplicates; 404 "DNS Entry not found" if none).

        Seed: Domains > DNS > Remove a DNS entry from a domain.
        """
        self._call(
            "DELETE", _DNS, params={"domain": domain}, body={"dnsEntry": entry_to_json(entry)}
        )


def _every_page(
    get: Callable[[dict[str, str]], dict[str, Any]], query: dict[str, str]
) -> list[str]:
    """The domain names of every page, following ``next`` links (never round in a circle)."""
    names: list[str] = []
    seen_pages: set[tuple[tuple[str, str], ...]] = set()
    while True:
        data = get(query)
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


def make_client(
    api_url: str,
    login: str | None,
    private_key_path: str | os.PathLike[str] | None,
    *,
    insecure_key_permissions: bool = False,
    global_key: bool = True,
    cache_dir: Path | None = None,
    timeout: float = 10.0,
    observer: Observer | None = None,
    access_token_file: str | os.PathLike[str] | None = None,
    read_only: bool = False,
    expiration_time: str = "1 hour",
    budget: Budget | None = None,
    kind: str,
    **options: Unpack[ClientOptions],
) -> TransipClient:
    """A client with the token source the settings ask for, both on one ``Transport``.

    ``access_token_file`` (a token from the control panel) wins over the key; otherwise
    ``login`` + ``private_key_path`` sign ``/auth`` requests. Key problems raise
    ``ConfigError`` here, before any request is made. ``budget`` (None: none) is asked
    before every request; ``kind`` is the work the client's requests are charged to.
    ``options`` go to ``TransipClient``; its ``clock`` is also the one the token schedule
    is kept on.
    """
    transport = Transport(api_url, timeout=timeout, observer=observer, budget=budget)
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
            transport,
            login or "",
            private_key_path,
            insecure_key_permissions=insecure_key_permissions,
            global_key=global_key,
            read_only=read_only,
            expiration_time=expiration_time,
            cache_dir=cache_dir,
            clock=options.get("clock", time.time),
        )
    return TransipClient(transport, auth, kind=kind, **options)
