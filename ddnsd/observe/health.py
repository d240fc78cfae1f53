"""Health state, pure: what ``/healthz``, ``/readyz`` and systemd's ``STATUS=`` report.

No I/O and no clock of its own: the clock is injected, so every answer is a function of
the rounds recorded and the time asked. Thread-safe (the scheduler writes, the HTTP
server reads).

Ready means: a successful round within 2 x interval, and a usable TransIP token. With
``interval=None`` (no records to keep, e.g. an ACME-only sidecar) rounds are not expected
and only the token counts. The token counts as usable until :meth:`Health.set_token_problem`
names a problem (the token source's last request for one was refused or failed, with no
usable token left), and again once a later one is obtained.

Records put off by TransIP's rate limit (:meth:`Health.set_deferred`) do not fail a round
and do not make the process unready (it still serves ACME with the reserve); the reason
and the status line say how many wait and when the next try is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from ddnsd.model import Outcome


def format_age(seconds: float) -> str:
    """``"12 s"``, ``"4 min"``, ``"3 h"``, ``"2 d"``: how long ago, rounded down."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 2 * 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


class Health:
    """Liveness, readiness and a one-line status from recorded rounds."""

    def __init__(self, interval: float | None, clock: Callable[[], float] = time.time) -> None:
        if interval is not None and interval <= 0:
            raise ValueError(f"health interval must be positive, not {interval}")
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last_round: float | None = None
        self._last_round_ok = False
        self._last_success: float | None = None
        self._token_problem: str | None = None
        self._in_sync: int | None = None
        self._records: int | None = None
        self._deferred: tuple[int, float] | None = None  # (records, until)

    def record_round(
        self,
        ok: bool,
        when: float | None = None,
        *,
        outcomes: Mapping[str, Outcome] | None = None,
    ) -> None:
        """Note a finished round (``when`` defaults to the clock's now).

        ``outcomes`` (record key -> Outcome) feeds the "in sync: 2/2 records" count; a
        round without it keeps the previous count.
        """
        at = self._clock() if when is None else when
        with self._lock:
            self._last_round = at
            self._last_round_ok = ok
            if ok:
                self._last_success = at
            if outcomes is not None:
                self._records = len(outcomes)
                self._in_sync = sum(1 for o in outcomes.values() if o.ok)

    def set_deferred(self, records: int, until: float | None) -> None:
        """``records`` wait for TransIP's rate limit until ``until`` (0 / None: none wait)."""
        with self._lock:
            self._deferred = (records, until) if records and until is not None else None

    def _deferred_text(self, now: float) -> str:
        if self._deferred is None:
            return ""
        records, until = self._deferred
        return (
            f"{records} record(s) deferred by TransIP's rate limit, "
            f"next try in {format_age(max(until - now, 0))}"
        )

    def set_token_problem(self, problem: str | None) -> None:
        """Why no usable TransIP token exists (one sentence), or None when one does."""
        with self._lock:
            self._token_problem = problem

    def alive(self) -> bool:
        """The process is alive: always true while it can answer."""
        return True

    def ready(self) -> tuple[bool, str]:
        """(ready, reason): the reason is one sentence either way."""
        now = self._clock()
        with self._lock:
            token_problem, success = self._token_problem, self._last_success
            interval = self.interval
            deferred = self._deferred_text(now)
        problems: list[str] = []
        if token_problem is not None:
            problems.append(f"no usable TransIP token ({token_problem})")
        if interval is not None:
            limit = 2 * interval
            if success is None:
                problems.append("no successful round yet")
            elif now - success > limit:
                problems.append(
                    f"the last successful round was {format_age(now - success)} ago, "
                    f"more than 2 x interval ({format_age(limit)})"
                )
        if problems:
            return False, "not ready: " + "; ".join(problems + ([deferred] if deferred else []))
        if success is None:
            return True, "ready" + (f": {deferred}" if deferred else "")
        text = f"ready: last successful round {format_age(now - success)} ago"
        return True, text + (f"; {deferred}" if deferred else "")

    def status_line(self, in_sync: int | None = None, records: int | None = None) -> str:
        """Text for sd_notify ``STATUS=``: "in sync: 2/2 records, last round 12 s ago".

        ``in_sync`` / ``records`` override the counts recorded with the last round's outcomes.
        """
        now = self._clock()
        with self._lock:
            last, last_ok, success = self._last_round, self._last_round_ok, self._last_success
            token_problem = self._token_problem
            deferred = self._deferred_text(now)
            if in_sync is None:
                in_sync = self._in_sync
            if records is None:
                records = self._records
        if last is None:
            text = "waiting for the first round"
        else:
            parts = []
            if records is not None and in_sync is not None:
                parts.append(f"in sync: {in_sync}/{records} records")
            elif records is not None:
                parts.append(f"{records} records")
            parts.append(f"last round {format_age(now - last)} ago")
            text = ", ".join(parts)
            if not last_ok:
                text += " failed"
                if success is None:
                    text += ", no successful round yet"
                else:
                    text += f", last success {format_age(now - success)} ago"
        if deferred:
            text += f"; {deferred}"
        if token_problem is not None:
            text += "; TransIP token unusable"
        return text
