"""ddnsd.reconcile.schedule: the read-back schedule and the write order, on given times."""

from __future__ import annotations

import pytest

from ddnsd.reconcile.schedule import slot_start, verify_due, verify_offset, write_order

H = 3600.0


def test_offsets_are_stable_spread_and_inside_the_interval() -> None:
    domains = [f"d{i:04d}.test" for i in range(1000)]
    offsets = [verify_offset(d, H) for d in domains]
    assert offsets == [verify_offset(d, H) for d in domains]  # stable
    assert verify_offset("Example.TEST.", H) == verify_offset("example.test", H)
    assert all(0 <= o < H for o in offsets)
    per_5_minutes = [sum(1 for o in offsets if s <= o < s + 300) for s in range(0, 3600, 300)]
    assert max(per_5_minutes) < 2 * 1000 / 12  # never all at once: ~83 per 5-minute round


# (id, now, offset, slot start)
SLOTS = [
    ("at-the-offset", 1000.0, 1000.0, 1000.0),
    ("just-before", 999.0, 1000.0, 1000.0 - H),
    ("later-interval", 1000.0 + 2.5 * H, 1000.0, 1000.0 + 2 * H),
    ("offset-zero", 7300.0, 0.0, 7200.0),
]


@pytest.mark.parametrize(
    ("now", "offset", "start"), [s[1:] for s in SLOTS], ids=[s[0] for s in SLOTS]
)
def test_slot_start(now: float, offset: float, start: float) -> None:
    assert slot_start(now, offset, H) == start


D = "example.test"
OFFSET = verify_offset(D, H)  # example.test's point in the hour
T0 = 100 * H + OFFSET  # a time exactly at that point

# (id, now, last read or None, first seen, interval, due)
DUES = [
    ("never-read/first-round/not-due", T0 + 10, None, T0 + 10, H, False),
    ("never-read/point-passed-since-first-seen/due", T0 + 10, None, T0 - 60, H, True),
    ("never-read/point-not-yet/not-due", T0 - 10, None, T0 - H + 60, H, False),
    ("read/same-slot/not-due", T0 + H - 10, T0 + 5, T0 - 99 * H, H, False),
    ("read/the-next-point-passed/due", T0 + H + 1, T0 + 5, T0 - 99 * H, H, True),
    ("read/just-before-the-point/not-again-just-after", T0 + 10, T0 - 60, T0 - 99 * H, H, False),
    ("read/long-ago/due", T0 + 10 * H, T0, T0 - 99 * H, H, True),
    ("interval-0/always", T0, T0, T0, 0.0, True),
]


@pytest.mark.parametrize(
    ("now", "verified", "first_seen", "interval", "due"),
    [d[1:] for d in DUES],
    ids=[d[0] for d in DUES],
)
def test_verify_due(
    now: float, verified: float | None, first_seen: float, interval: float, due: bool
) -> None:
    got = verify_due(D, now, verified=verified, first_seen=first_seen, interval=interval)
    assert got is due


def test_a_thousand_new_domains_are_read_back_spread_over_the_interval() -> None:
    """A fresh state dir: nothing in the first round, then each domain at its own point."""
    domains = [f"d{i:04d}.test" for i in range(1000)]
    first = 1_000_000.0
    verified: dict[str, float] = {}
    reads_per_round = []
    for r in range(13):
        now = first + 300 * r
        due = [
            d
            for d in domains
            if verify_due(d, now, verified=verified.get(d), first_seen=first, interval=H)
        ]
        verified.update(dict.fromkeys(due, now))
        reads_per_round.append(len(due))
    assert reads_per_round[0] == 0
    assert max(reads_per_round) < 2 * 1000 / 12  # ~83 each 5 minutes, never all at once
    assert sum(reads_per_round) == 1000  # each once in the first hour


def test_twelve_runs_an_hour_read_back_at_most_once() -> None:
    for first in (T0 - 299, T0 + 1, T0 + H / 2):  # wherever the hour starts
        verified: float | None = None
        reads = 0
        for i in range(12):
            now = first + 300 * i
            if verify_due(D, now, verified=verified, first_seen=first, interval=H):
                verified, reads = now, reads + 1
        assert reads <= 1


# (id, domains, waiting since, order)
ORDERS = [
    ("nothing-waits/configured-order", ["a", "b", "c"], {}, ["a", "b", "c"]),
    ("waiting-longest-first", ["a", "b", "c"], {"c": 10.0, "b": 20.0}, ["c", "b", "a"]),
    ("ties-keep-the-configured-order", ["a", "b", "c"], {"c": 5.0, "a": 5.0}, ["a", "c", "b"]),
]


@pytest.mark.parametrize(
    ("domains", "waiting", "order"), [o[1:] for o in ORDERS], ids=[o[0] for o in ORDERS]
)
def test_write_order(domains: list[str], waiting: dict[str, float], order: list[str]) -> None:
    assert write_order(domains, waiting) == order
