"""Events: what happened, one flat JSON object each; the kinds and their fields, once.

Every result the reporter sees that a person may ask about later becomes an
:class:`Event`: the history file stores them (one JSON line each), the status page and
``ddnsd status`` list them, notifications are chosen from them. docs/status.md documents
:data:`KINDS` (a test keeps the two in step).

A line is ``{"at": <unix seconds>, "kind": "<kind>", <the kind's fields>}``. Field values
are plain JSON (strings, numbers, booleans, null, lists, objects) and never a secret:
record keys, names, addresses, source labels (passwords already redacted) and the
sentences of errors, which never carry secrets either.

Standard library only: the ACME hooks write events too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: kind → its fields, in the order they are written.
KINDS: dict[str, tuple[str, ...]] = {
    "started": ("version", "pid", "records"),
    "stopped": ("pid",),
    "reloaded": ("config",),
    "address": ("family", "old", "new", "sources"),
    "written": ("record", "method", "old", "new"),
    "failed": ("record", "message"),
    "recovered": ("record", "failed_since"),
    "conflict": ("record", "message"),
    "challenge_added": ("name", "zone"),
    "challenge_served": ("name", "seconds", "nameservers"),
    "challenge_removed": ("name", "stale"),
    "challenge_failed": ("name", "action", "message"),
    "deferred": ("what", "count", "until", "reason"),
}

#: field → the JSON types its value may have (a line read back is checked against these)
_TEXT, _MAYBE_TEXT, _TEXTS, _TIMES = (str,), (str, type(None)), (list,), (dict,)
_COUNT, _NUMBER, _MAYBE_NUMBER = (int,), (int, float), (int, float, type(None))
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "version": _TEXT,
    "pid": _COUNT,
    "records": _COUNT,
    "config": _TEXT,
    "family": _TEXT,
    "old": _MAYBE_TEXT,
    "new": _MAYBE_TEXT,
    "sources": _TEXTS,
    "record": _MAYBE_TEXT,
    "method": _TEXT,
    "message": _TEXT,
    "failed_since": _MAYBE_NUMBER,
    "name": _TEXT,
    "zone": _TEXT,
    "seconds": _NUMBER,
    "nameservers": _TIMES,  # nameserver → seconds
    "stale": (bool,),
    "action": _TEXT,
    "what": _TEXT,
    "count": _COUNT,
    "until": _MAYBE_NUMBER,
    "reason": _TEXT,
}
#: the largest time an event may name (9999-12-31, as every state file)
LAST_TIME = 253402300799.0

CHALLENGE_KINDS = frozenset(k for k in KINDS if k.startswith("challenge_"))
FAILURE_KINDS = frozenset({"failed", "conflict", "challenge_failed", "deferred"})


@dataclass(frozen=True)
class Event:
    """One event: its kind, when (Unix seconds) and its fields (see :data:`KINDS`)."""

    kind: str
    at: float
    fields: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def to_json(self) -> dict[str, Any]:
        return {"at": round(self.at, 3), "kind": self.kind, **self.fields}

    def to_line(self) -> str:
        """One line of the history file (no newline; non-ASCII kept as is)."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, obj: object) -> Event | None:
        """The event in a parsed line; None when it is not one (a kind of a later version
        is kept, with whatever fields it has)."""
        if not isinstance(obj, dict):
            return None
        at, kind = obj.get("at"), obj.get("kind")
        if not isinstance(kind, str) or isinstance(at, bool) or not isinstance(at, int | float):
            return None
        if not 0 <= at <= LAST_TIME:
            return None
        fields = {k: v for k, v in obj.items() if k not in ("at", "kind")}
        if kind in KINDS and not all(_fits(k, fields.get(k)) for k in KINDS[kind]):
            return None
        return cls(kind, float(at), fields)


def _fits(name: str, value: object) -> bool:
    """``value`` has a type the field ``name`` may have: a number finite and in the range of
    a time, a list of strings, an object of such numbers; never a bool for a number."""
    types = FIELD_TYPES.get(name, ())
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int | float):
        return isinstance(value, types) and math.isfinite(value) and 0 <= value <= LAST_TIME
    if isinstance(value, list):
        return list in types and all(isinstance(v, str) for v in value)
    if isinstance(value, dict):
        return dict in types and all(_fits("seconds", v) for v in value.values())
    return isinstance(value, types)


def event(kind: str, at: float, **fields: Any) -> Event:
    """An event of ``kind`` with exactly its documented fields (ValueError otherwise: a bug)."""
    want = KINDS.get(kind)
    if want is None:
        raise ValueError(f"unknown event kind {kind!r}")
    if set(fields) != set(want):
        raise ValueError(f"event {kind!r} takes the fields {want}, not {tuple(fields)}")
    return Event(kind, at, {name: fields[name] for name in want})


#: Where events go (the reporter's :class:`~ddnsd.observe.report.EventLog`).
EventSink = Callable[[Event], None]


def describe(obj: Mapping[str, Any]) -> str:
    """One line for people (the status page, ``ddnsd status``) from an event's JSON."""
    kind = obj.get("kind")

    def g(name: str) -> str:
        value = obj.get(name)
        return "(none)" if value is None else str(value)

    family = {"ipv4": "IPv4", "ipv6": "IPv6"}.get(g("family"), g("family"))
    record = g("record") if obj.get("record") is not None else "the round"
    texts = {
        "started": lambda: (
            f"ddnsd {g('version')} started (pid {g('pid')}, {g('records')} "
            + ("record)" if obj.get("records") == 1 else "records)")
        ),
        "stopped": lambda: f"ddnsd stopped (pid {g('pid')})",
        "reloaded": lambda: f"configuration reloaded from {g('config')}",
        "address": lambda: f"{family} address {g('old')} → {g('new')}",
        "written": lambda: f"{record}: {g('old')} → {g('new')} ({g('method')})",
        "failed": lambda: f"{record} failed: {g('message')}",
        "recovered": lambda: f"{record} recovered",
        "conflict": lambda: f"{record}: {g('message')}",
        "challenge_added": lambda: f"challenge added at {g('name')}",
        "challenge_served": lambda: (
            f"challenge at {g('name')} served by all {_count(obj.get('nameservers'))} "
            f"nameservers after {_seconds(obj.get('seconds'))}"
        ),
        "challenge_removed": lambda: (
            f"challenge removed at {g('name')}" + (" (stale)" if obj.get("stale") else "")
        ),
        "challenge_failed": lambda: (
            f"challenge {g('action')} at {g('name')} failed: {g('message')}"
        ),
        "deferred": lambda: f"{g('count')} {g('what')} deferred: {g('reason')}",
    }
    text = texts.get(str(kind))
    return text() if text is not None else str(kind)


def _count(value: object) -> str:
    """How many nameservers an event names (a history line of another version may hold
    anything: shown as "?", never a crash of the page)."""
    return str(len(value)) if isinstance(value, list | dict | tuple) else "?"


def _seconds(value: object) -> str:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return f"{value:.1f} s" if ok else "? s"
