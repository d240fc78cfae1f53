"""The request budget: its arithmetic (ledger.py, table-driven, injected clock) and the
shared file (budget.py) as two processes on one state directory would use it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ddnsd.errors import ApiDeferred, TransipRateLimited
from ddnsd.statedir import StateDir
from ddnsd.transip.budget import Budget
from ddnsd.transip.ledger import (
    ACME,
    DDNS,
    LastAnswer,
    Ledger,
    admit,
    record_answer,
    reserve_of,
    used,
)

NOW = 10_000.0
W = 900.0  # TransIP's window; MARGIN (1 s) is added to every comparison


def own(*times: float) -> list[float]:
    return sorted(times)


# (id, ledger, kind, count, expected: None = admitted now, else the time it may go)
ADMITS = [
    ("empty/admits", Ledger(limit=10), DDNS, 1, None),
    (
        "own-count/ddns-stops-at-the-acme-reserve",
        Ledger(limit=10, sent=own(*range(9500, 9509))),
        DDNS,
        1,
        9500 + W + 1,  # when the oldest of ours leaves the window
    ),
    (
        "own-count/acme-still-has-its-reserve",
        Ledger(limit=10, sent=own(*range(9500, 9509))),
        ACME,
        1,
        None,
    ),
    (
        "own-count/requests-outside-the-window-do-not-count",
        Ledger(limit=10, sent=own(*range(9000, 9009))),
        DDNS,
        1,
        None,
    ),
    (
        "header/someone-else-used-the-budget",
        Ledger(limit=10, sent=[9990.0], seen=LastAnswer(9, 10300, 9990)),
        DDNS,
        1,
        10301.0,  # X-Rate-Limit-Reset: the oldest counted request leaves
    ),
    (
        "header/requests-after-the-answer-add-up",
        Ledger(limit=10, sent=own(9990, 9995, 9996, 9997, 9998), seen=LastAnswer(5, 10300, 9990)),
        DDNS,
        1,
        10301.0,
    ),
    (
        "header/acme-may-use-the-last-one",
        Ledger(limit=10, sent=own(9990, 9995, 9996, 9997, 9998), seen=LastAnswer(5, 10300, 9990)),
        ACME,
        1,
        None,
    ),
    (
        "header/reset-passed-one-left",
        Ledger(limit=10, sent=[9990.0], seen=LastAnswer(9, 9995, 9990)),
        DDNS,
        1,
        None,
    ),
    (
        "header/an-answer-older-than-the-window-is-forgotten",
        Ledger(limit=10, sent=[], seen=LastAnswer(10, 99_999, 9000)),
        DDNS,
        1,
        None,
    ),
    (
        "header/ours-that-left-since-the-answer",
        Ledger(
            limit=10, sent=own(9090, 9091, 9092, 9093, 9094, 9990), seen=LastAnswer(9, 20_000, 9990)
        ),
        DDNS,
        1,
        None,  # five of the nine counted were ours and have left the window since
    ),
    (
        "count/a-domain-is-written-together",
        Ledger(limit=10, sent=own(*range(9500, 9508))),
        DDNS,
        2,
        9500 + W + 1,  # 8 in use, 2 more would cross the 9 DDNS may use
    ),
    ("count/one-fits", Ledger(limit=10, sent=own(*range(9500, 9508))), DDNS, 1, None),
    ("circuit/open-blocks-acme-too", Ledger(limit=10, open_until=10_100), ACME, 1, 10_100.0),
    ("circuit/closed-again", Ledger(limit=10, open_until=9_999), ACME, 1, None),
]


@pytest.mark.parametrize(
    ("ledger", "kind", "count", "expected"),
    [a[1:] for a in ADMITS],
    ids=[a[0] for a in ADMITS],
)
def test_admit(ledger: Ledger, kind: str, count: int, expected: float | None) -> None:
    assert admit(ledger, NOW, kind, window=W, reserve=0.1, count=count) == expected


@pytest.mark.parametrize(
    ("limit", "fraction", "kept"),
    [(1000, 0.1, 100), (10, 0.1, 1), (3, 0.1, 0), (100, 0.0, 0), (2, 0.9, 1), (1, 0.5, 0)],
)
def test_reserve_keeps_one_request_for_ddns(limit: int, fraction: float, kept: int) -> None:
    assert reserve_of(limit, fraction) == kept


# (id, ledger before, sent_at, status, headers, seen after, open_until after, limit after)
ANSWERS = [
    (
        "ok/takes-the-headers",
        Ledger(),
        9990.0,
        200,
        {
            "X-Rate-Limit-Limit": "100",
            "X-Rate-Limit-Remaining": "60",
            "X-Rate-Limit-Reset": "10500",
        },
        LastAnswer(40, 10500, 9990),
        None,
        100,
    ),
    (
        "ok/an-older-answer-does-not-replace-a-newer-one",
        Ledger(seen=LastAnswer(7, 10500, 9995)),
        9990.0,
        200,
        {"X-Rate-Limit-Remaining": "999", "X-Rate-Limit-Reset": "10400"},
        LastAnswer(7, 10500, 9995),
        None,
        1000,
    ),
    (
        "429/opens-the-circuit-until-the-reset",
        Ledger(),
        9990.0,
        429,
        {
            "X-Rate-Limit-Limit": "1000",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": "10200",
        },
        None,  # after the reset the next answer tells what the window holds
        10201.0,
        1000,
    ),
    (
        "429/without-a-reset-a-minute",
        Ledger(),
        9990.0,
        429,
        {},
        None,
        NOW + 60,
        1000,
    ),
    (
        "429/a-reset-beyond-one-window-is-cut-to-one-window",
        Ledger(),
        9990.0,
        429,
        {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "1e300"},
        None,
        NOW + 900 + 1,
        1000,
    ),
    ("no-headers/nothing-learnt", Ledger(), 9990.0, 200, {}, None, None, 1000),
]


@pytest.mark.parametrize(
    ("ledger", "sent_at", "status", "headers", "seen", "open_until", "limit"),
    [a[1:] for a in ANSWERS],
    ids=[a[0] for a in ANSWERS],
)
def test_record_answer(
    ledger: Ledger,
    sent_at: float,
    status: int,
    headers: dict[str, str],
    seen: LastAnswer | None,
    open_until: float | None,
    limit: int,
) -> None:
    record_answer(ledger, sent_at, status, headers, NOW)
    assert (ledger.seen, ledger.open_until, ledger.limit) == (seen, open_until, limit)


def test_used_never_below_our_own_count() -> None:
    ledger = Ledger(limit=10, sent=own(9990, 9991, 9992), seen=LastAnswer(0, 10500, 9989))
    assert used(ledger, NOW, W) == 3


# ----------------------------------------------------------------------------- the file


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def budget(state: Path | None, clock: Clock, **kw: object) -> Budget:
    return Budget(
        state and StateDir(state), login="demo", api_url="https://api.test/v6", clock=clock, **kw
    )  # type: ignore[arg-type]


HEADERS = {"X-Rate-Limit-Limit": "10", "X-Rate-Limit-Remaining": "9", "X-Rate-Limit-Reset": "10900"}


def test_two_processes_share_one_budget(tmp_path: Path) -> None:
    clock = Clock()
    daemon, hook = budget(tmp_path, clock), budget(tmp_path, clock)
    for _ in range(9):
        daemon.answered(daemon.take(DDNS), 200, HEADERS)
    with pytest.raises(ApiDeferred) as caught:
        hook.take(DDNS)
    assert caught.value.until == NOW + W + 1
    assert caught.value.kind == DDNS
    assert isinstance(caught.value, TransipRateLimited)
    assert str(caught.value).startswith("no request sent to TransIP for ddns work until ") and str(
        caught.value
    ).endswith(
        "the request budget of login 'demo' is spent (9 of 10 in 15 minutes, 1 kept for ACME)"
    )
    hook.take(ACME)  # the reserve
    with pytest.raises(ApiDeferred):
        daemon.take(ACME)
    assert daemon.remaining() == hook.remaining() == 0
    clock.now += W + 1
    assert hook.until(DDNS, 2) is None  # the window slid: everything left


def test_a_429_silences_every_process_until_the_reset_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    caplog.set_level(logging.INFO, logger="ddnsd.transip")
    first, second = budget(tmp_path, clock), budget(tmp_path, clock)
    sent = first.take(DDNS)
    first.answered(sent, 429, {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(NOW + 30)})
    for b in (first, second, first, second):
        for kind in (DDNS, ACME):
            with pytest.raises(ApiDeferred) as caught:
                b.take(kind)
            assert caught.value.until == NOW + 31
    assert "TransIP answered 429 (rate limit) for login 'demo'" in str(caught.value)
    opened = [r for r in caplog.records if "answered 429" in r.getMessage()]
    assert len(opened) == 1  # once per process per opening, not per refused request
    clock.now = NOW + 31
    second.take(ACME)


def test_refusals_are_reported(tmp_path: Path) -> None:
    clock = Clock()
    heard: list[tuple[str, float]] = []
    b = budget(tmp_path, clock, on_deferred=lambda kind, until: heard.append((kind, until)))
    b.answered(b.take(DDNS), 429, {"X-Rate-Limit-Reset": str(NOW + 10)})
    with pytest.raises(ApiDeferred):
        b.take(ACME)
    assert heard == [(ACME, NOW + 11)]


@pytest.mark.parametrize("content", ["{not json", '{"login": "demo"}', "[]", '{"login": "x"}'])
def test_a_corrupt_or_foreign_file_is_rebuilt(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    b = budget(tmp_path, clock)
    assert b.file is not None
    b.file.path.write_text(content)
    b.take(DDNS)
    data = json.loads(b.file.path.read_text())
    assert (data["login"], data["sent"]) == ("demo", [NOW])


def test_an_unusable_state_dir_counts_in_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "not-a-directory"
    state.write_text("")
    clock = Clock()
    b = budget(state, clock)
    for _ in range(9):
        b.answered(b.take(DDNS), 200, HEADERS)
    with pytest.raises(ApiDeferred):
        b.take(DDNS)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "counting in this process only" in warned[0]


def test_without_a_state_dir_the_budget_is_per_process() -> None:
    clock = Clock()
    b = budget(None, clock)
    b.answered(b.take(DDNS), 200, HEADERS)
    assert b.remaining() == 9


def test_answers_to_auth_teach_nothing(tmp_path: Path) -> None:
    clock = Clock()
    b = budget(tmp_path, clock)
    full = {
        "X-Rate-Limit-Limit": "10",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": "10500",
    }
    b.answered(b.take(DDNS), 201, full, counted=False)
    assert b.remaining() == 9  # the limit is learnt; the window is only our own request


# (id, the file's fields changed from a good one, kept?) read back at NOW with window W
BASE = {"version": 1, "login": "demo", "api_url": "u", "limit": 10, "sent": [NOW - 5]}
READ_BACK = [
    ("good", {}, True),
    ("429 silence one window ahead", {"open_until": NOW + W + 1}, True),
    ("429 silence past one window", {"open_until": NOW + W + 2}, False),
    ("429 silence until 9999", {"open_until": 253402300799.0}, False),
    ("a request sent by now", {"sent": [NOW + 1]}, True),
    ("a request counted before the clock stepped back 5 s", {"sent": [NOW + 5]}, True),
    ("a request sent a day ahead", {"sent": [NOW + 86400]}, False),
    ("reset one window ahead", {"seen": [1, NOW + W + 1, NOW - 5]}, True),
    ("reset past one window", {"seen": [1, NOW + W + 2, NOW - 5]}, False),
    ("limit as text", {"limit": "10"}, False),
    ("limit zero", {"limit": 0}, False),
    ("limit true", {"limit": True}, False),
    ("a request sent at text", {"sent": ["x"]}, False),
]


@pytest.mark.parametrize(
    ("change", "kept"), [c[1:] for c in READ_BACK], ids=[c[0] for c in READ_BACK]
)
def test_the_budget_file_is_read_back_within_its_window(
    tmp_path: Path, change: dict[str, object], kept: bool
) -> None:
    """A 429's silence and TransIP's reset are believed up to one window ahead, requests
    up to now (a second's margin), when the file is read back; past that the file is set
    aside and the budget starts afresh, so a stamp far ahead never defers work."""
    budget = Budget(StateDir(tmp_path), login="demo", api_url="u", window=W, clock=lambda: NOW)
    assert budget.file is not None
    data = {"seen": None, "open_until": None, **BASE, **change}
    budget.file.path.write_text(json.dumps(data))
    _, in_use, _ = budget.window_state()
    aside = list(tmp_path.glob(f"{budget.file.path.name}.corrupt-*"))
    assert (aside == []) is kept
    assert in_use == (len(data["sent"]) if kept else 0)  # type: ignore[arg-type]
