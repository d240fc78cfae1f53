"""The ``/v6`` resources of the emulated account, one function each, and the route table::

    GET  /v6/api-test                      {"ping": "pong"}
    POST /v6/auth                          201 {"token": "<RS256 JWT>"}    (see tokens.py)
    GET  /v6/domains[?tags=a,b&pageSize=N&page=P]  {"domains": [...], "_links": {"pages": [...]}}
    GET  /v6/domains/{domain}              {"domain": {...}, "_links": [self, branding, ...]}
    PUT  /v6/domains/{domain}              {"domain": {"tags": [...]}} → 204 (tags only)
    GET  /v6/domains/{domain}/nameservers  {"nameservers": [...]}
    GET  /v6/domains/{domain}/contacts     {"contacts": [...]}
    GET  /v6/domains/{domain}/branding     {"branding": {...}}
    GET  /v6/domains/{domain}/actions      {"action": {"name": null, ...}}
    GET|POST|PATCH|PUT|DELETE /v6/domains/{domain}/dns    (zones.py has the rules)

``?include=nameservers,contacts`` adds those lists to a domain; what the account says
about its domains (tags, nameservers, contacts, links) is account.py. A resource runs only once
``api.py`` let the call through (token, rate limit, method, read-only, faults); it answers
``(status, JSON body)`` or raises :class:`~ddnsd.emulator.httpserver.Reply`,
:class:`~ddnsd.emulator.zones.ZoneError` or :class:`~ddnsd.emulator.tokens.AuthFailure`.
A new resource is a function here and a row in :data:`ROUTES`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ddnsd.emulator import account
from ddnsd.emulator.httpserver import ApiRequest, error
from ddnsd.emulator.state import EmulatorState
from ddnsd.emulator.tokens import Principal
from ddnsd.emulator.zones import entry_from_json, entry_to_json


@dataclass(frozen=True)
class Call:
    """A ``/v6`` call the gate let through: the request, the path's parameters, who sends it."""

    request: ApiRequest
    params: dict[str, str]
    who: Principal | None  # None for the one public route, POST /v6/auth
    test: bool  # validate only (``?test=1`` or the demo token)


Resource = Callable[[EmulatorState, Call], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    template: str  # "/v6/domains/{domain}/dns": the path in stats, logs and fault scripts
    methods: frozenset[str]
    resource: Resource
    public: bool = False  # reached without a token (and never rate-limited): POST /v6/auth
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(regex))


def route(path: str) -> tuple[Route, dict[str, str]]:
    """The route of ``path`` and its parameters; 400 outside ``/v6/``, 404 for the rest."""
    for r in ROUTES:
        m = r.pattern.fullmatch(path)
        if m:
            return r, m.groupdict()
    if not path.startswith("/v6/"):
        raise error(400, f"The API version or URL is invalid: '{path}' (use /v6/...)")
    raise error(404, f"Resource '{path}' not found")


# -- resources ------------------------------------------------------------------------------


def api_test(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    return 200, {"ping": "pong"}


def auth(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    return 201, {"token": emu.auth.issue(call.request.body, call.request.headers.get("Signature"))}


def domains(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    include, tags = _include(call), account.wanted_tags(call.request)
    names = [d for d in emu.store.domains if not tags or tags & set(emu.tags.get(d))]
    out: dict[str, Any] = {
        "domains": [
            account.domain_json(d, emu.tags.get(d), emu.dns_address[0], include) for d in names
        ]
    }
    paginate(
        account.public_base(emu.base_url, call.request), out, "domains", call.request, "/v6/domains"
    )
    return 200, out


def domain(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    name = _domain(emu, call)
    if call.request.method == "PUT":
        tags = account.tags_from_json(call.request.json_object().get("domain"))
        if tags is not None and not call.test:
            emu.tags.set(name, tags)
        return 204, None
    return 200, {
        "domain": account.domain_json(name, emu.tags.get(name), emu.dns_address[0], _include(call)),
        "_links": account.domain_links(account.public_base(emu.base_url, call.request), name),
    }


def nameservers(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    return 200, {"nameservers": account.nameservers_json(emu.dns_address[0], _domain(emu, call))}


def contacts(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    return 200, {"contacts": account.contacts_json(_domain(emu, call))}


def branding(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    _domain(emu, call)
    return 200, {"branding": dict(account.BRANDING)}


def actions(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    _domain(emu, call)
    return 200, {"action": account.action_json()}


def _domain(emu: EmulatorState, call: Call) -> str:
    """The path's domain, lower-case: 406 for an invalid name, 404 if not in the account."""
    name = call.params["domain"].lower()
    emu.store.zone(name)
    return name


def dns(emu: EmulatorState, call: Call) -> tuple[int, Any]:
    store, name, method = emu.store, call.params["domain"].lower(), call.request.method
    if method == "GET":
        entries = store.zone(name)
        out: dict[str, Any] = {"dnsEntries": [entry_to_json(e) for e in entries]}
        base = account.public_base(emu.base_url, call.request)
        paginate(base, out, "dnsEntries", call.request, f"/v6/domains/{name}/dns")
        return 200, out
    body = call.request.json_object()
    store.zone(name)  # 404/406 for the domain before the body
    if method == "PUT":
        if not isinstance(body.get("dnsEntries"), list):
            raise error(406, "Missing required parameter 'dnsEntries'")
        new = [entry_from_json(e, f"dnsEntries[{i}]") for i, e in enumerate(body["dnsEntries"])]
        store.replace(name, new, call.test)
        return 204, None
    entry = entry_from_json(body.get("dnsEntry"))
    if method == "POST":
        store.add(name, entry, call.test)
        return 201, None
    if method == "PATCH":
        store.update(name, entry, call.test)
        return 204, None
    store.delete(name, entry, call.test)
    return 204, None


ROUTES: list[Route] = [
    Route("/v6/api-test", frozenset({"GET"}), api_test),
    Route("/v6/auth", frozenset({"POST"}), auth, public=True),
    Route("/v6/domains", frozenset({"GET"}), domains),
    Route("/v6/domains/{domain}", frozenset({"GET", "PUT"}), domain),
    Route("/v6/domains/{domain}/nameservers", frozenset({"GET"}), nameservers),
    Route("/v6/domains/{domain}/contacts", frozenset({"GET"}), contacts),
    Route("/v6/domains/{domain}/branding", frozenset({"GET"}), branding),
    Route("/v6/domains/{domain}/actions", frozenset({"GET"}), actions),
    Route("/v6/domains/{domain}/dns", frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"}), dns),
]


# -- JSON shapes ----------------------------------------------------------------------------


def _include(call: Call) -> set[str]:
    return {s.strip() for s in call.request.query.get("include", "").split(",") if s.strip()}


def paginate(base: str, out: dict[str, Any], key: str, request: ApiRequest, path: str) -> None:
    """With ``pageSize`` in the query: cut ``out[key]`` to the page and add ``_links.pages``
    (links start with ``base``, the emulator as the request reached it)."""
    query = request.query
    if "pageSize" not in query:
        return
    try:
        size = int(query["pageSize"])
        page = int(query.get("page", "1"))
    except ValueError:
        raise error(406, "pageSize and page must be positive integers") from None
    if size < 1 or page < 1:
        raise error(406, "pageSize and page must be positive integers")
    items = out[key]
    last = max(1, math.ceil(len(items) / size))
    out[key] = items[(page - 1) * size : page * size]
    base += path
    kept = [(k, v) for k, v in query.items() if k not in ("pageSize", "page")]  # tags, include

    def link(rel: str, p: int) -> dict[str, str]:
        params = urlencode([*kept, ("pageSize", size), ("page", p)], safe=",")
        return {"rel": rel, "link": f"{base}?{params}"}

    pages: list[dict[str, str]] = []
    if page > 1:
        pages += [link("first", 1), link("previous", min(page - 1, last))]
    if page < last:
        pages += [link("next", page + 1), link("last", last)]
    out["_links"] = {"pages": pages}
