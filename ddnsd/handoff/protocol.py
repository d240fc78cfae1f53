"""The hook socket's wire format: JSON lines, pure encode/decode (standard library only).

The hook sends one request line::

    {"v": 1, "command": "present", "args": ["_acme-challenge.example.com.", "VALUE"], "env": {}}

``command`` is what followed ``ddnsd`` on the hook's command line (``present``, ``cleanup``
or ``hook``) and ``args`` the rest, verbatim: ``FQDN VALUE``, RAW ``-- DOMAIN TOKEN KEYAUTH``,
``certbot-auth``, ``dehydrated HANDLER ARGS…``. ``env`` carries certbot's ``CERTBOT_*``
variables. The daemon runs the same front door (:mod:`ddnsd.acme.hooks`) on them, so every
form, check and message is the one the hook would have produced itself.

The daemon answers with lines, each one JSON object with one key:

* ``{"accepted": {"v": 1, "timeout": S}}`` — the work started; it ends within ``S`` seconds;
* ``{"log": {"ts": …, "level": "INFO", "logger": "ddnsd.acme…", "msg": "…"}}`` — progress;
* ``{"result": {"exit": N, "lines": ["ddnsd: …"]}}`` — always last: the exit code and the
  lines for stderr. A request that is refused or cannot be read gets only this line.

Unknown keys in a line are ignored, so either side may add some without a new version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

VERSION = 1
COMMANDS = ("present", "cleanup", "hook")
#: A request line longer than this is refused (a certbot run with 100 names fits easily).
MAX_REQUEST = 256 * 1024
ENV_PREFIX = "CERTBOT_"
#: Seconds a hook's work may take beyond its propagation waits (API calls, retries).
API_MARGIN = 60.0
#: The longest "accepted" timeout a hook takes (a year: the daemon's bounds are hours).
MAX_TIMEOUT = 365 * 86400.0


class ProtocolError(ValueError):
    """A line that is not what the protocol says; the text says what is wrong."""


class HookRequest(NamedTuple):  # not a dataclass: the hook's fast path skips that import
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = {}

    @property
    def what(self) -> str:
        """The command as people typed it, for messages ("present", "hook certbot-auth")."""
        return " ".join([self.command, *self.args[:1]]) if self.command == "hook" else self.command


def encode_request(request: HookRequest) -> bytes:
    body = {
        "v": VERSION,
        "command": request.command,
        "args": list(request.args),
        "env": dict(request.env),
    }
    return _line(body)


def decode_request(line: bytes) -> HookRequest:
    """The request in ``line``; :class:`ProtocolError` says what is wrong with it."""
    data = _object(line, "request")
    version = data.get("v")
    if version != VERSION:
        raise ProtocolError(
            f"the request is protocol version {version!r}, this daemon speaks {VERSION}; "
            "run the same ddnsd version for the hook and the daemon"
        )
    command = data.get("command")
    if command not in COMMANDS:
        raise ProtocolError(f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
    args = data.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ProtocolError('"args" must be a list of strings')
    env = data.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and k.startswith(ENV_PREFIX) and isinstance(v, str)
        for k, v in env.items()
    ):
        raise ProtocolError(f'"env" must map {ENV_PREFIX}* names to strings')
    return HookRequest(str(command), tuple(args), dict(env))


def accepted(timeout: float) -> bytes:
    return _line({"accepted": {"v": VERSION, "timeout": timeout}})


def log_line(ts: float, level: str, logger: str, msg: str) -> bytes:
    return _line({"log": {"ts": ts, "level": level, "logger": logger, "msg": msg}})


def result(code: int, lines: Sequence[str]) -> bytes:
    return _line({"result": {"exit": code, "lines": list(lines)}})


def decode_message(line: bytes) -> tuple[str, dict[str, Any]]:
    """``(kind, body)`` of one daemon line; kind "" for a line of a kind this side ignores.

    :class:`ProtocolError` also for an ``accepted`` line whose timeout is not seconds."""
    data = _object(line, "answer")
    for kind in ("result", "log", "accepted"):
        body = data.get(kind)
        if isinstance(body, dict):
            if kind == "accepted":
                _seconds(body.get("timeout", 0))
            return kind, body
    return "", {}


def _seconds(value: object) -> None:
    """ProtocolError unless ``value`` is a time the hook can wait: a finite number of
    seconds, at most :data:`MAX_TIMEOUT` (NaN, infinity or a string would break its clock)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_TIMEOUT  # False for NaN
    ):
        raise ProtocolError(f"the timeout {value!r} is not a number of seconds")


def work_bound(request: HookRequest, propagation_timeout: float) -> float:
    """Seconds the daemon may take for ``request``: one propagation wait per value (the last
    certbot hook waits for all of the certificate's), one more for a request budget that
    resets meanwhile, and :data:`API_MARGIN` per value for the API calls."""
    values = 1
    if request.command == "hook" and request.args[:1] == ("dehydrated",):
        values = max(1, (len(request.args) - 2) // 3)
    elif request.command == "hook":
        names = [d for d in request.env.get("CERTBOT_ALL_DOMAINS", "").split(",") if d.strip()]
        values = max(1, len(names))
    return (values + 1) * max(propagation_timeout, 0.0) + (values + 1) * API_MARGIN


def _line(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8") + b"\n"


def _object(line: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep
        raise ProtocolError(f"the {what} is not a line of JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"the {what} is not a JSON object")
    return data
