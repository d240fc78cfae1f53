"""TransIP REST API v6 client: one method per endpoint.

Every call goes through ``TransipClient._request`` → ``calls.Caller`` (token, retry
decisions from ``retry.decide``, where the retry rules are written down) → the shared
``http.Transport`` (session, timeout, headers, observer, rate-limit headers, request
count, request budget). The endpoint methods below only name a path and shape a body.

A client charges its requests to one kind of work in the budget ("ddns" by default);
``for_kind("acme")`` is a view of the same client (one transport, token and budget) whose
requests are ACME's, so the reserve kept for certificates is used by them alone.

There is deliberately no method for replacing a whole zone: ddnsd touches only the
entries it owns.
"""

from __future__ import annotations

import copy
import os
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict, Unpack

import requests

from ddnsd.errors import ConfigError
from ddnsd.model import DnsEntry
from ddnsd.transip.auth import KeyAuth, StaticTokenAuth, TokenSource
from ddnsd.transip.budget import Budget
from ddnsd.transip.calls import Caller
from ddnsd.transip.http import Observer, Transport, fill
from ddnsd.transip.retry import Policy
from ddnsd.transip.wire import (
    RateLimit,
    TransipBadResponse,
    domain_names_from_json,
    dumps,
    entries_from_json,
    entry_to_json,
    next_page_query,
    ping_from_json,
)

__all__ = ["TransipClient", "make_client"]

_MAX_PAGES = 10_000


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
    cover both. ``backoff_base``/``backoff_cap`` (seconds) shape the retry backoff; a 429
    is never waited for here (``ApiDeferred``: the caller decides). ``sleep``, ``rand``
    and ``clock`` (wall clock) are there for tests.
    """

    def __init__(
        self,
        transport: Transport,
        auth: TokenSource,
        *,
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
        self.test_mode = test_mode
        policy = Policy(
            max_retries=max(0, max_retries),
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            api_url=transport.api_url,
        )
        self._caller = Caller(transport, auth, policy, sleep=sleep, rand=rand, clock=clock)

    def __repr__(self) -> str:
        return f"TransipClient({self.api_url!r}, test_mode={self.test_mode}, kind={self.kind!r})"

    @property
    def kind(self) -> str:
        """The work this client's requests are charged to in the budget."""
        return self._caller.kind

    def for_kind(self, kind: str) -> TransipClient:
        """This client (same transport, token and budget) charging its requests to ``kind``."""
        view = copy.copy(self)
        view._caller = copy.copy(self._caller)
        view._caller.kind = kind
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
        return self._caller.policy.max_retries

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

    def _request(
        self,
        method: str,
        template: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Send one API call (``Caller.call``); writes carry ``?test=1`` in test mode.

        ``template`` is the path below the API URL with ``{name}`` placeholders filled
        from ``params``; it is what the observer sees.
        """
        query_params = dict(query or {})
        if self.test_mode and method != "GET":
            query_params["test"] = "1"
        return self._caller.call(
            method,
            template,
            path=fill(template, params),
            query=query_params,
            body=dumps(body) if body is not None else None,
        )

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

    def _write_entry(self, method: str, domain: str, entry: DnsEntry) -> None:
        self._request(
            method,
            "/domains/{domain}/dns",
            params={"domain": domain},
            body={"dnsEntry": entry_to_json(entry)},
        )

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
        return _every_page(lambda q: self._get("/domains", query=q), query)

    def list_dns_entries(self, domain: str) -> list[DnsEntry]:
        """``GET /domains/{domain}/dns``: every entry of the zone, in TransIP's order.

        Seed: Domains > DNS > List all DNS entries for a domain.
        """
        path = "/domains/{domain}/dns"
        return entries_from_json(self._get(path, params={"domain": domain}), path=path)

    def add_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``POST /domains/{domain}/dns``: add one entry beside the existing ones.

        Not retried once the request may have arrived (see ``retry``): on
        ``TransipUnavailable``/``TransipServerError`` re-read the zone.

        Seed: Domains > DNS > Add a new single DNS entry to a domain.
        """
        self._write_entry("POST", domain, entry)

    def update_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``PATCH /domains/{domain}/dns``: set the content of the one entry matching
        ``entry``'s name, expire and type (406 when none or several match).

        Seed: Domains > DNS > Update single DNS entry.
        """
        self._write_entry("PATCH", domain, entry)

    def delete_dns_entry(self, domain: str, entry: DnsEntry) -> None:
        """``DELETE /domains/{domain}/dns``: remove one entry equal to ``entry`` in all four
        fields (one of them, if there are duplicates; 404 "DNS Entry not found" if none).

        Seed: Domains > DNS > Remove a DNS entry from a domain.
        """
        self._write_entry("DELETE", domain, entry)


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
    **options: Unpack[ClientOptions],
) -> TransipClient:
    """A client with the token source the settings ask for, both on one ``Transport``.

    ``access_token_file`` (a token from the control panel) wins over the key; otherwise
    ``login`` + ``private_key_path`` sign ``/auth`` requests. Key problems raise
    ``ConfigError`` here, before any request is made. ``budget`` (None: none) is asked
    before every request. ``options`` go to ``TransipClient``; its ``clock`` is also the
    one the token schedule is kept on. The client's requests are "ddns" work.
    """
    transport = Transport(
        api_url, timeout=timeout, observer=observer, session=requests.Session(), budget=budget
    )
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
    return TransipClient(transport, auth, **options)
