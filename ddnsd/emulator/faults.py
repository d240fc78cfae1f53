"""Fault injection for the ``/v6`` API, repeatable through a seeded ``random.Random``.

Kinds: ``500`` (Internal server error), ``409`` (``Error fetching Dns Entries: DNS Entries
are currently being saved``), ``slow`` (answers after ``slow_seconds``), ``lost`` (the
request is applied, then the connection is closed without an answer), ``ratelimit`` (429
``Rate limit of N requests … exceeded`` with ``X-Rate-Limit-Remaining: 0`` and an
``X-Rate-Limit-Reset`` ``reset`` seconds ahead, default 60; nothing is applied and the
login's window is left as it was: it is one answer, not a blocked login).

``rate`` picks one of ``kinds`` at random for ``/v6`` writes (never for ``POST /v6/auth``);
``ratelimit`` is only picked when ``kinds`` names it. A ``script`` of exact next faults
(each with an optional ``method``, path template and, for ``ratelimit``, ``reset``) goes
first and may hit any ``/v6`` request, reads and ``/v6/auth`` included. Both are set
through ``POST /_emulator/faults`` (:meth:`FaultInjector.configure`), whose answer also
counts the faults ``injected`` since the start or the last reset, by kind.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from ddnsd.emulator.httpserver import error, number

FAULT_KINDS = ("500", "409", "slow", "lost")  # the random set unless ``kinds`` says otherwise
ALL_KINDS = (*FAULT_KINDS, "ratelimit")
DEFAULT_RESET = 60.0  # seconds ahead for a ``ratelimit`` fault without ``reset``
BEING_SAVED = "Error fetching Dns Entries: DNS Entries are currently being saved"


@dataclass(frozen=True)
class ScriptedFault:
    """One fault of a script: the next request matching ``method`` and ``path`` gets it."""

    kind: str
    method: str | None = None  # None: any method
    path: str | None = None  # a route template such as "/v6/domains/{domain}/dns"; None: any
    reset: float = DEFAULT_RESET  # ``ratelimit``: X-Rate-Limit-Reset this many seconds ahead

    def matches(self, method: str, template: str) -> bool:
        return self.method in (None, method) and self.path in (None, template)


class FaultInjector:
    """Picks and applies faults; thread-safe. :meth:`reset` restores the configured start."""

    def __init__(
        self,
        rate: float,
        kinds: tuple[str, ...] = FAULT_KINDS,
        seed: int = 0,
        slow_seconds: float = 1.5,
    ) -> None:
        self._start = (rate, tuple(kinds), seed)
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        self._script: list[ScriptedFault] = []
        self._injected: collections.Counter[str] = collections.Counter()
        self.reset()

    def reset(self) -> None:
        rate, kinds, seed = self._start
        with self._lock:
            self._rate = rate
            self._kinds = kinds
            self._random = random.Random(seed)
            self._script.clear()
            self._injected.clear()

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        """Take ``rate``/``kinds``/``seed``/``script`` from a control request; the settings.

        Every value is checked before any is taken: a 406 changes nothing."""
        rate = kinds = rnd = script = None
        if "rate" in body:
            rate = number(body["rate"], "Fault rate", 0.0, 1.0)
        if "kinds" in body:
            if not isinstance(body["kinds"], list):
                raise error(406, f"Fault kinds must be a list; use {list(ALL_KINDS)}")
            kinds = tuple(str(k) for k in body["kinds"])
            bad = [k for k in kinds if k not in ALL_KINDS]
            if bad or not kinds:
                raise error(406, f"Unknown fault kinds {bad}; use {list(ALL_KINDS)}")
        if "seed" in body:
            rnd = random.Random(int(number(body["seed"], "The seed", 0, 2**63)))
        if "script" in body:
            items = body["script"] or []
            if not isinstance(items, list):
                raise error(406, "The script must be a list of fault objects")
            script = [self._scripted(item) for item in items]
        with self._lock:
            self._rate = self._rate if rate is None else rate
            self._kinds = self._kinds if kinds is None else kinds
            self._random = self._random if rnd is None else rnd
            self._script = self._script if script is None else script
            return {
                "rate": self._rate,
                "kinds": list(self._kinds),
                "script": [asdict(item) for item in self._script],
                "injected": dict(self._injected),
            }

    @staticmethod
    def _scripted(item: Any) -> ScriptedFault:
        if not isinstance(item, dict):
            raise error(406, "Each script item must be an object with a 'kind'")
        kind = str(item.get("kind", ""))
        if kind not in ALL_KINDS:
            raise error(406, f"Unknown fault kind '{kind}'; use {list(ALL_KINDS)}")
        method, path = item.get("method") or None, item.get("path") or None
        for key, value in (("method", method), ("path", path)):
            if value is not None and not isinstance(value, str):
                raise error(406, f"A fault's '{key}' must be a string, not {value!r}")
        reset = number(item.get("reset", DEFAULT_RESET), "A fault's 'reset' (seconds)", 0, 86400)
        return ScriptedFault(kind, method.upper() if method else None, path, reset)

    def pick(self, method: str, template: str, *, at_random: bool) -> ScriptedFault | None:
        """The fault for this request: the first matching scripted one (used up), else one
        at random (``at_random``: the request may get one) with probability ``rate``."""
        with self._lock:
            fault = next((f for f in self._script if f.matches(method, template)), None)
            if fault is not None:
                self._script.remove(fault)
            elif at_random and self._rate > 0 and self._random.random() < self._rate:
                fault = ScriptedFault(self._random.choice(self._kinds))
            if fault is not None:
                self._injected[fault.kind] += 1
            return fault

    def apply(self, fault: str | None) -> bool:
        """A fault's effect before the request is handled; True if the answer is to be lost.

        ``ratelimit`` is answered by the gate (api.py), which knows the rate limiter."""
        if fault == "500":
            raise error(500, "Internal server error")
        if fault == "409":
            raise error(409, BEING_SAVED)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        return fault == "lost"
