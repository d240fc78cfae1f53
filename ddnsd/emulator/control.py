"""The control endpoints (outside ``/v6``: never counted, never rate-limited, no token)::

    GET  /_emulator/state      {"domains": {"example.test": [{name, expire, type, content}]}}
    GET  /_emulator/stats      {"requests": [{method, path, status, count}], "total": N}
    GET  /_emulator/tokens     {"tokens": [...]}
    POST /_emulator/faults     {"rate", "kinds", "seed", "script"} → the settings (faults.py)
    POST /_emulator/reset      zones, stats, rate windows and faults as at the start
    POST /_emulator/entries    {"domain": ..., "entry": {...}}: seed a foreign entry
    POST /_emulator/revoke     {"jti": ...} / {"label": ...} / {"all": true}
    POST /_emulator/expire     {} = every token, or {"jti": ...}
    POST /_emulator/delay      {"propagation_delay": SECONDS}: change the DNS delay of a
                               running emulator

A ``POST`` body must be a JSON object (422); anything else is 404.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ddnsd.emulator.httpserver import ApiAnswer, ApiRequest, Reply, error, number
from ddnsd.emulator.state import EmulatorState
from ddnsd.emulator.zones import ZoneError, entry_from_json, entry_to_json

log = logging.getLogger(__name__)

Endpoint = Callable[[EmulatorState, dict[str, Any]], tuple[int, Any]]


def respond(emu: EmulatorState, request: ApiRequest) -> ApiAnswer:
    method, path = request.method, request.path
    try:
        body = request.json_object() if method == "POST" else {}
        endpoint = ENDPOINTS.get((method, path))
        if endpoint is None:
            raise error(404, f"No control endpoint {method} {path}")
        status, out = endpoint(emu, body)
    except Reply as reply:
        status, out = reply.status, reply.body
    log.debug("%s %s %s", method, path, status)
    return ApiAnswer(status, out)


def _state(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, emu.state()


def _stats(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, emu.stats()


def _log(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, emu.requests.log()


def _tokens(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"tokens": emu.auth.tokens()}


def _faults(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, emu.set_faults(body)


def _reset(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    emu.reset()
    return 200, {"reset": True}


def _entries(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    domain = str(body.get("domain", ""))
    try:
        entry = entry_from_json(body.get("entry"), "entry")
        emu.store.seed(domain, entry)
    except ZoneError as exc:
        raise error(exc.status, exc.message) from None
    return 201, {"domain": domain, "entry": entry_to_json(entry)}


def _revoke(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    n = emu.auth.revoke(jti=body.get("jti"), label=body.get("label"), all_=bool(body.get("all")))
    return 200, {"revoked": n}


def _expire(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"expired": emu.auth.expire(body.get("jti"))}


def _delay(emu: EmulatorState, body: dict[str, Any]) -> tuple[int, Any]:
    emu.delay = number(body.get("propagation_delay", 0.0), "propagation_delay (seconds)", 0, 86400)
    return 200, {"propagation_delay": emu.delay}


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/_emulator/state"): _state,
    ("GET", "/_emulator/stats"): _stats,
    ("GET", "/_emulator/log"): _log,
    ("GET", "/_emulator/tokens"): _tokens,
    ("POST", "/_emulator/faults"): _faults,
    ("POST", "/_emulator/reset"): _reset,
    ("POST", "/_emulator/entries"): _entries,
    ("POST", "/_emulator/revoke"): _revoke,
    ("POST", "/_emulator/expire"): _expire,
    ("POST", "/_emulator/delay"): _delay,
}
