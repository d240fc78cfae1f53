"""When a domain's zone is read back from the API, and in which order domains are written.

PURE: no I/O, no clock (times come in as arguments), table-tested in
``tests/unit/test_reconcile_schedule.py``.

Verification: DNS shows a record's values and TTL, but not everything (an entry TransIP
holds and does not serve, a change in the control panel that has not reached every
nameserver yet), so each domain's zone is still read once per ``interval`` even while DNS
agrees. Each domain has its own stable point in the interval (:func:`verify_offset`, from
a hash of its name): a thousand domains seen for the first time are verified one by one
over the next interval, never all in one round, and a domain is verified at most once per
interval however often ``ddnsd once`` runs (twelve runs an hour, default interval 1 h: at
most one read).

Order: domains whose records have waited longest for the API go first; among equals the
configured order holds, so the order is stable from round to round (after a deferral the
records that were put off are the first written).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence


def verify_offset(domain: str, interval: float) -> float:
    """``domain``'s point within every ``interval`` (0 ≤ offset < interval), stable forever."""
    digest = hashlib.sha256(domain.lower().rstrip(".").encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 * interval


def slot_start(now: float, offset: float, interval: float) -> float:
    """The last time ≤ ``now`` that is ``offset`` plus a whole number of intervals."""
    return offset + interval * math.floor((now - offset) / interval)


def verify_due(
    domain: str, now: float, *, verified: float | None, first_seen: float, interval: float
) -> bool:
    """Whether ``domain``'s zone should be read back now.

    ``verified``: its last API read (None: none yet); ``first_seen``: when ddnsd first saw
    it. A domain never read is due at its first point after ddnsd first saw it (never in
    that first round). After a read it is due once its point has passed since and at least
    half an interval has gone by (a read just before the point is not repeated just after).
    """
    if interval <= 0:
        return True
    point = slot_start(now, verify_offset(domain, interval), interval)
    if verified is None:
        return point > first_seen
    return now - verified >= interval / 2 and point > verified


def write_order(domains: Sequence[str], waiting: Mapping[str, float]) -> list[str]:
    """``domains`` with the longest-waiting first (``waiting``: domain → since when one of
    its records waits for the API; absent = new work, after all waiting ones), otherwise in
    the given order."""
    rank = {d: i for i, d in enumerate(domains)}
    return sorted(domains, key=lambda d: (waiting.get(d, math.inf), rank[d]))
