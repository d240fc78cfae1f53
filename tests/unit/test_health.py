"""Health state: readiness, status line and age formatting, table-driven."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from clock_support import Clock

from ddnsd.model import Outcome
from ddnsd.observe.health import Health, format_age

INTERVAL = 300.0
T0 = 1_700_000_000.0

OK2 = {"home.example.test/A": Outcome.NOOP, "home.example.test/AAAA": Outcome.UPDATED}
HALF = {"home.example.test/A": Outcome.NOOP, "home.example.test/AAAA": Outcome.FAILED}


@dataclass
class Case:
    rounds: list[tuple[bool, float]]  # (ok, seconds after T0)
    now: float  # seconds after T0
    want_ready: bool
    want_reason: str
    token_problem: str | None = None
    interval: float | None = INTERVAL
    outcomes: dict[str, Outcome] = field(default_factory=dict)


READY_CASES = {
    "no-round/not-ready": Case([], 10, False, "not ready: no successful round yet"),
    "fresh-success/ready": Case([(True, 0)], 12, True, "ready: last successful round 12 s ago"),
    "success-at-2x-interval/ready": Case(
        [(True, 0)], 600, True, "ready: last successful round 10 min ago"
    ),
    "success-just-past-2x/not-ready": Case(
        [(True, 0)],
        601,
        False,
        "not ready: the last successful round was 10 min ago, more than 2 x interval (10 min)",
    ),
    "failed-after-success/still-ready": Case(
        [(True, 0), (False, 300)], 310, True, "ready: last successful round 5 min ago"
    ),
    "only-failures/not-ready": Case(
        [(False, 0), (False, 300)], 310, False, "not ready: no successful round yet"
    ),
    "token-unusable/not-ready": Case(
        [(True, 0)],
        5,
        False,
        "not ready: no usable TransIP token (TransIP refused the key)",
        token_problem="TransIP refused the key",
    ),
    "token-unusable-and-stale/both-reasons": Case(
        [(True, 0)],
        3 * 3600,
        False,
        "not ready: no usable TransIP token (TransIP refused the key); "
        "the last successful round was 3 h ago, more than 2 x interval (10 min)",
        token_problem="TransIP refused the key",
    ),
    "no-interval/no-rounds-needed": Case([], 10, True, "ready", interval=None),
    "no-interval/token-unusable": Case(
        [],
        10,
        False,
        "not ready: no usable TransIP token (TransIP refused the key)",
        token_problem="TransIP refused the key",
        interval=None,
    ),
}


@pytest.mark.parametrize("case", READY_CASES.values(), ids=READY_CASES.keys())
def test_ready(case: Case) -> None:
    clock = Clock(T0)
    health = Health(case.interval, clock=clock)
    for ok, at in case.rounds:
        health.record_round(ok, T0 + at)
    health.set_token_problem(case.token_problem)
    clock.now = T0 + case.now
    assert health.ready() == (case.want_ready, case.want_reason)
    assert health.alive() is True


@dataclass
class StatusCase:
    rounds: list[tuple[bool, float, dict[str, Outcome] | None]]
    now: float
    want: str
    token_problem: str | None = None


STATUS_CASES = {
    "no-round/waiting": StatusCase([], 3, "waiting for the first round"),
    "all-in-sync": StatusCase([(True, 0, OK2)], 12, "in sync: 2/2 records, last round 12 s ago"),
    "one-failed-record/failed-round": StatusCase(
        [(True, 0, OK2), (False, 300, HALF)],
        312,
        "in sync: 1/2 records, last round 12 s ago failed, last success 5 min ago",
    ),
    "first-round-failed": StatusCase(
        [(False, 0, HALF)],
        1,
        "in sync: 1/2 records, last round 1 s ago failed, no successful round yet",
    ),
    "round-without-outcomes/keeps-count": StatusCase(
        [(True, 0, OK2), (True, 300, None)], 330, "in sync: 2/2 records, last round 30 s ago"
    ),
    "no-outcomes-ever": StatusCase([(True, 0, None)], 7200, "last round 2 h ago"),
    "token-unusable": StatusCase(
        [(True, 0, OK2)],
        1,
        "in sync: 2/2 records, last round 1 s ago; TransIP token unusable",
        token_problem="TransIP refused the key",
    ),
    "conflict-is-not-in-sync": StatusCase(
        [(True, 0, {"a.example.test/A": Outcome.CONFLICT})],
        0,
        "in sync: 0/1 records, last round 0 s ago",
    ),
}


@pytest.mark.parametrize("case", STATUS_CASES.values(), ids=STATUS_CASES.keys())
def test_status_line(case: StatusCase) -> None:
    clock = Clock(T0)
    health = Health(INTERVAL, clock=clock)
    for ok, at, outcomes in case.rounds:
        health.record_round(ok, T0 + at, outcomes=outcomes)
    health.set_token_problem(case.token_problem)
    clock.now = T0 + case.now
    assert health.status_line() == case.want


def test_record_round_defaults_to_the_clock() -> None:
    clock = Clock(T0)
    health = Health(INTERVAL, clock=clock)
    health.record_round(True)
    clock.now = T0 + 5
    assert health.ready() == (True, "ready: last successful round 5 s ago")


def test_token_recovers() -> None:
    health = Health(INTERVAL, clock=Clock(T0))
    health.record_round(True, T0)
    health.set_token_problem("TransIP refused the key")
    assert health.ready()[0] is False
    health.set_token_problem(None)
    assert health.ready()[0] is True


@pytest.mark.parametrize("interval", [0.0, -1.0], ids=["zero", "negative"])
def test_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Health(interval)


AGES = {
    "negative/clamped": (-3.0, "0 s"),
    "zero": (0.0, "0 s"),
    "fraction/rounded-down": (12.9, "12 s"),
    "119s/seconds": (119.0, "119 s"),
    "120s/minutes": (120.0, "2 min"),
    "119min/minutes": (7199.0, "119 min"),
    "2h/hours": (7200.0, "2 h"),
    "47h/hours": (47 * 3600.0, "47 h"),
    "2d/days": (2 * 86400.0, "2 d"),
}


@pytest.mark.parametrize(("seconds", "want"), AGES.values(), ids=AGES.keys())
def test_format_age(seconds: float, want: str) -> None:
    assert format_age(seconds) == want


OVERRIDES = {
    "explicit-counts-win": (1, 3, "in sync: 1/3 records, last round 0 s ago"),
    "records-only/recorded-in-sync": (None, 3, "in sync: 2/3 records, last round 0 s ago"),
    "in-sync-only": (2, None, "in sync: 2/2 records, last round 0 s ago"),
}


@pytest.mark.parametrize(("in_sync", "records", "want"), OVERRIDES.values(), ids=OVERRIDES.keys())
def test_status_line_explicit_counts(in_sync: int | None, records: int | None, want: str) -> None:
    health = Health(INTERVAL, clock=Clock(T0))
    health.record_round(True, T0, outcomes=OK2)
    assert health.status_line(in_sync, records) == want


def test_status_line_records_without_outcomes() -> None:
    health = Health(INTERVAL, clock=Clock(T0))
    health.record_round(True, T0)
    assert health.status_line(None, 2) == "2 records, last round 0 s ago"


# (id, deferred records, until (s after T0), now (s after T0), ready, reason, status line)
DEFERRED = [
    (
        "deferred/still-ready-and-says-so",
        600,
        900.0,
        12.0,
        True,
        "ready: last successful round 12 s ago; 600 record(s) deferred by TransIP's rate "
        "limit, next try in 14 min",
        "in sync: 0/2 records, last round 12 s ago; 600 record(s) deferred by TransIP's rate "
        "limit, next try in 14 min",
    ),
    (
        "deferred/reset-passed",
        2,
        10.0,
        12.0,
        True,
        "ready: last successful round 12 s ago; 2 record(s) deferred by TransIP's rate limit, "
        "next try in 0 s",
        "in sync: 0/2 records, last round 12 s ago; 2 record(s) deferred by TransIP's rate "
        "limit, next try in 0 s",
    ),
    (
        "nothing-deferred",
        0,
        None,
        12.0,
        True,
        "ready: last successful round 12 s ago",
        "in sync: 0/2 records, last round 12 s ago",
    ),
]


@pytest.mark.parametrize(
    ("records", "until", "now", "ready", "reason", "status"),
    [d[1:] for d in DEFERRED],
    ids=[d[0] for d in DEFERRED],
)
def test_deferred_records_are_said_not_failed(
    records: int,
    until: float | None,
    now: float,
    ready: bool,
    reason: str,
    status: str,
) -> None:
    clock = Clock(T0)
    health = Health(INTERVAL, clock=clock)
    outcomes = dict.fromkeys(OK2, Outcome.DEFERRED)
    health.record_round(True, T0, outcomes=outcomes)
    health.set_deferred(records, None if until is None else T0 + until)
    clock.now = T0 + now
    assert health.ready() == (ready, reason)
    assert health.status_line() == status
