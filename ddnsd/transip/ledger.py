"""The request budget's arithmetic, pure: a ``Ledger`` (what is known about one login's
window), the time it is asked at, and the answers it was fed. No I/O, no clock of its own;
``budget.py`` keeps a ledger in the state directory and asks these functions.

* requests in use (:func:`used`) = the larger of our own count in the window and the last
  answer's ``limit - remaining`` plus our requests sent after it, minus ours that left the
  window since (at least one once that answer's ``X-Rate-Limit-Reset`` has passed);
* kinds (:func:`cap`): "acme" may use the whole limit, "ddns" all but the ACME reserve;
* a 429 (:func:`record_answer`) opens the circuit until ``X-Rate-Limit-Reset``: nothing of
  any kind is admitted (:func:`admit`) until then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ddnsd.transip.wire import RateLimit

DDNS, ACME = "ddns", "acme"
DEFAULT_LIMIT = 1000  # TransIP's, until an answer says otherwise
WINDOW = 900.0  # TransIP's sliding window: 15 minutes
#: Seconds added to every time the window or a reset is compared with: TransIP's headers
#: have whole seconds and its clock is not ours.
MARGIN = 1.0
NO_RESET_WAIT = 60.0  # a 429 without X-Rate-Limit-Reset: keep silent this long


@dataclass(frozen=True)
class LastAnswer:
    """What the newest answer said: ``used`` = limit - remaining, when the oldest counted
    request leaves the window (``reset``), and when the request it answered was sent."""

    used: int
    reset: float
    sent_at: float


@dataclass
class Ledger:
    """The budget's whole state (the JSON file)."""

    limit: int = DEFAULT_LIMIT
    sent: list[float] = field(default_factory=list)  # send times, oldest first
    seen: LastAnswer | None = None
    open_until: float | None = None  # a 429 opened the circuit until then


def reserve_of(limit: int, fraction: float) -> int:
    """Requests of ``limit`` kept for ACME (at least one left for DDNS)."""
    return max(0, min(limit - 1, round(limit * fraction)))


def cap(ledger: Ledger, kind: str, reserve: float) -> int:
    """How many requests ``kind`` may have in the window."""
    return ledger.limit - (reserve_of(ledger.limit, reserve) if kind != ACME else 0)


def used(ledger: Ledger, now: float, window: float) -> int:
    """Requests of this login in TransIP's window at ``now`` (the module docstring's rule)."""
    horizon = now - window - MARGIN
    own = sum(1 for t in ledger.sent if t > horizon)
    seen = ledger.seen
    if seen is None or seen.sent_at <= horizon:
        return own
    after = sum(1 for t in ledger.sent if t > seen.sent_at)
    left = sum(
        1 for t in ledger.sent if seen.sent_at - window - MARGIN < t <= min(seen.sent_at, horizon)
    )
    if now >= seen.reset + MARGIN:
        left = max(left, 1)
    return max(own, max(seen.used - left, 0) + after)


def free_at(ledger: Ledger, now: float, window: float, room: int) -> float:
    """The first time ``used`` is below ``room`` if nothing more is sent (``now`` if it is)."""
    candidates = [now, *(t + window + MARGIN for t in ledger.sent)]
    if ledger.seen is not None:
        candidates += [ledger.seen.reset + MARGIN, ledger.seen.sent_at + window + MARGIN]
    for at in sorted(c for c in candidates if c >= now):
        if used(ledger, at, window) < room:
            return at
    return now + window + MARGIN  # everything known has left the window by then


def admit(
    ledger: Ledger, now: float, kind: str, *, window: float, reserve: float, count: int = 1
) -> float | None:
    """None when ``count`` more requests of ``kind`` fit now; else when they may."""
    if ledger.open_until is not None and now < ledger.open_until:
        return ledger.open_until
    room = cap(ledger, kind, reserve) - min(max(count, 1), cap(ledger, kind, reserve)) + 1
    if used(ledger, now, window) < room:
        return None
    return free_at(ledger, now, window, room)


def record_answer(
    ledger: Ledger,
    sent_at: float,
    status: int,
    headers: Mapping[str, str],
    now: float,
    *,
    counted: bool = True,
    window: float = WINDOW,
) -> float | None:
    """Take an answer's ``X-Rate-Limit-*`` into ``ledger``; the circuit's end after a 429.

    ``counted`` False: the answer came before TransIP knew the login (``/auth``, a 401):
    only its ``X-Rate-Limit-Limit`` is taken, its window is nobody's. A 429's reset is
    believed up to one ``window`` ahead: every request in the window has left it by then,
    so a reset further out (a clock far off, a proxy's header) cannot silence ddnsd for days.
    """
    got = RateLimit()
    got.update(headers)
    if got.limit is not None and got.limit > 0:
        ledger.limit = got.limit
    if not counted and status != 429:
        return None
    remaining, reset = got.remaining, got.reset
    if status == 429:
        # Silence until the reset; what the window holds after it is learnt from the
        # next answer (a 429 may also come from elsewhere than a full window).
        until = (reset if reset is not None else now + NO_RESET_WAIT - MARGIN) + MARGIN
        until = min(until, now + window + MARGIN)
        ledger.open_until = max(ledger.open_until or 0.0, until)
        return ledger.open_until
    newer = ledger.seen is None or sent_at >= ledger.seen.sent_at
    if remaining is not None and reset is not None and newer:
        ledger.seen = LastAnswer(max(ledger.limit - remaining, 0), reset, sent_at)
    return None


def prune(ledger: Ledger, now: float, window: float) -> None:
    """Forget what can no longer matter (two windows back), so the file stays small."""
    horizon = now - 2 * (window + MARGIN)
    ledger.sent = [t for t in ledger.sent if t > horizon]
    if ledger.open_until is not None and ledger.open_until <= now:
        ledger.open_until = None
    if ledger.seen is not None and ledger.seen.sent_at <= horizon:
        ledger.seen = None


def to_json(ledger: Ledger) -> dict[str, Any]:
    seen = ledger.seen
    return {
        "limit": ledger.limit,
        "sent": ledger.sent,
        "seen": None if seen is None else [seen.used, seen.reset, seen.sent_at],
        "open_until": ledger.open_until,
    }
