"""The ``/v6`` gate: every API request passes here in TransIP's order, then reaches its resource.

Order: ``POST /v6/auth`` needs no token (its body is signed, see tokens.py) and is never
rate-limited. Every other request: token (401, messages say "expired" / "revoked"), rate
limit (429, ratelimit.py), unknown resource (400 for an unknown API version, 404), method
(405), read-only token on a write (403 ``This is a read-only access token...``), faults
(faults.py; ``ratelimit`` answers 429 here), then the resource (resources.py: 201 POST,
204 PATCH/PUT/DELETE with empty bodies, 404 unknown domain or entry, 406 missing or
invalid parameters, 422 malformed JSON).
``?test=1`` (and the seed's demo token) validate writes without applying them.

Every ``/v6`` answer carries ``X-Rate-Limit-Limit/Remaining/Reset``; each request (429s
included) is counted in ``/_emulator/stats`` by method, route template and status (0: answer
lost), kept in ``/_emulator/log`` with its arrival time, and logged in one line without
secrets.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ddnsd.emulator import resources
from ddnsd.emulator.httpserver import WRITE_METHODS, ApiAnswer, ApiRequest, Reply, error
from ddnsd.emulator.resources import Call, Route
from ddnsd.emulator.state import EmulatorState
from ddnsd.emulator.tokens import AuthFailure
from ddnsd.emulator.zones import ZoneError

log = logging.getLogger(__name__)


def respond(emu: EmulatorState, request: ApiRequest) -> ApiAnswer:
    """Answer one ``/v6`` request (or lose its answer), count it and log it."""
    method, path = request.method, request.path
    template = path  # unknown resources are counted under their path
    headers = emu.limiter.fresh_headers()
    status, lost = 500, False
    body: Any = None
    try:
        miss: Reply | None = None
        try:
            route, params = resources.route(path)
            template = route.template
        except Reply as exc:  # answered after the token check, like any resource
            route, params, miss = None, {}, exc
        if route is not None and route.public:
            _check_method(route, method)
            lost = _fault(emu, method, route, at_random=False)
            status, body = route.resource(emu, Call(request, params, None, False))
        else:
            who = emu.auth.check(request.headers.get("Authorization"))
            headers, allowed = emu.limiter.check(who.login)
            if not allowed:
                raise emu.limiter.refusal(headers)
            if miss is not None:
                raise miss
            assert route is not None
            _check_method(route, method)
            if method in WRITE_METHODS and who.read_only:
                raise error(403, "This is a read-only access token; it cannot modify DNS entries")
            lost = _fault(emu, method, route, at_random=method in WRITE_METHODS)
            test = who.test_mode or request.query.get("test") in ("1", "true")
            status, body = route.resource(emu, Call(request, params, who, test))
    except Reply as reply:
        status, body = reply.status, reply.body
        headers = {**headers, **reply.headers}
    except (AuthFailure, ZoneError) as exc:
        status, body = exc.status, {"error": exc.message}
    except Exception:
        log.exception("emulator failed on %s %s", method, path)
        status, body = 500, {"error": "Internal server error"}
    took = time.monotonic() - request.started
    ms, arrived = took * 1000, time.time() - took
    if lost:
        emu.requests.count(method, template, 0, arrived)
        log.info("%s %s lost (applied, no answer) %.1fms", method, path, ms)
        return ApiAnswer(0, lost=True)
    emu.requests.count(method, template, status, arrived)
    log.info("%s %s %s %.1fms", method, path, status, ms)
    return ApiAnswer(status, body, headers)


def _check_method(route: Route, method: str) -> None:
    if method not in route.methods:
        raise error(405, f"Method {method} is not allowed on {route.template}")


def _fault(emu: EmulatorState, method: str, route: Route, *, at_random: bool) -> bool:
    """Pick and apply this request's fault; True if its answer is to be lost."""
    fault = emu.faults.pick(method, route.template, at_random=at_random)
    if fault is not None and fault.kind == "ratelimit":
        raise emu.limiter.throttle(fault.reset)
    return emu.faults.apply(fault.kind if fault is not None else None)
