"""The status board: which events each round's results imply, saving and loading, the document."""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path

import pytest

from ddnsd.detect.agree import Agreement, SourceReport
from ddnsd.detect.base import Family
from ddnsd.model import DnsEntry, Outcome, RecordSpec
from ddnsd.observe.events import Event, event
from ddnsd.observe.history import History
from ddnsd.observe.report import EventLog
from ddnsd.observe.status import (
    TIMELINE_CHANGES,
    StatusBoard,
    in_sync,
    snapshot,
    summary,
)
from ddnsd.reconcile.applier import RecordResult
from ddnsd.reconcile.engine import RoundResult
from ddnsd.reconcile.planner import Change
from ddnsd.statedir import StateDir

SPEC = RecordSpec("example.test", "home", "A")
KEY = SPEC.key


def result(outcome: Outcome, content: str | None = "203.0.113.7", via: str = "api") -> RoundResult:
    changes: tuple[Change, ...] = ()
    if outcome is Outcome.UPDATED:
        old = DnsEntry("home", 300, "A", "203.0.113.1")
        changes = (
            Change(
                "update", "example.test", DnsEntry("home", 300, "A", content or ""), KEY, "", old
            ),
        )
    message = {
        Outcome.FAILED: "home.example.test/A: TransIP said no",
        Outcome.CONFLICT: "two entries",
    }
    rec = RecordResult(SPEC, outcome, message.get(outcome, "fine"), changes, content, via=via)
    return RoundResult({KEY: rec}, api_requests=1, api_consulted=True)


N, U, F, C, D = Outcome.NOOP, Outcome.UPDATED, Outcome.FAILED, Outcome.CONFLICT, Outcome.DEFERRED


@pytest.mark.parametrize(
    ("outcomes", "kinds"),
    [
        ([N, N, N], []),
        ([U, N], ["written"]),
        ([N, F, F, F, N], ["failed", "recovered"]),
        ([F], ["failed"]),  # the first round already fails
        ([N, C, C, N], ["conflict", "recovered"]),
        ([N, F, C, U], ["failed", "conflict", "written", "recovered"]),
        ([N, F, D, F, N], ["failed", "recovered"]),  # put off: neither recovered nor failed
        ([N, D, N], []),
        ([N, D, F], ["failed"]),
    ],
    ids=[
        "quiet",
        "written",
        "failed-recovered",
        "failed-first",
        "conflict",
        "failed-conflict-written",
        "failed-deferred-failed",
        "deferred",
        "deferred-failed",
    ],
)
def test_record_transitions_make_events(outcomes: list[Outcome], kinds: list[str]) -> None:
    board = StatusBoard()
    got = []
    for i, outcome in enumerate(outcomes):
        got += [e.kind for e in board.update_records(float(i), result(outcome))]
    assert got == kinds


def test_written_and_recovered_carry_what_a_person_needs() -> None:
    board = StatusBoard()
    board.update_records(1.0, result(N, "203.0.113.1"))
    [failed] = board.update_records(2.0, result(F, None, via="none"))
    assert failed.fields == {"record": KEY, "message": "home.example.test/A: TransIP said no"}
    written, recovered = board.update_records(3.0, result(U, "203.0.113.9"))
    assert written.fields == {
        "record": KEY,
        "method": "PATCH",
        "old": "203.0.113.1",
        "new": "203.0.113.9",
    }
    assert recovered.fields == {"record": KEY, "failed_since": 2.0}
    state = board.records[KEY]
    assert (state.value, state.in_sync, state.last_change, state.last_verified) == (
        "203.0.113.9",
        True,
        3.0,
        3.0,
    )


@pytest.mark.parametrize(
    ("via", "outcome", "verified"),
    [("api", N, 5.0), ("dns", N, 5.0), ("memory", N, None), ("none", F, None), ("api", F, None)],
)
def test_last_verified_only_when_api_or_dns_confirmed(
    via: str, outcome: Outcome, verified: float | None
) -> None:
    board = StatusBoard()
    board.update_records(5.0, result(outcome, via=via))
    assert board.records[KEY].last_verified == verified


def agreement(address: str | None, *said: str | None) -> Agreement:
    reports = [SourceReport(f"s{i}", a, None if a else "timeout", 0.01) for i, a in enumerate(said)]
    return Agreement(Family.V4, address, reports, 1, "" if address else "no agreement")


@pytest.mark.parametrize(
    ("addresses", "changes"),
    [
        (["203.0.113.1", "203.0.113.1"], [(None, "203.0.113.1")]),
        (["203.0.113.1", "203.0.113.2"], [(None, "203.0.113.1"), ("203.0.113.1", "203.0.113.2")]),
        (["203.0.113.1", None, "203.0.113.1"], [(None, "203.0.113.1")]),  # unknown is no change
        (
            ["203.0.113.1", None, "203.0.113.2"],
            [(None, "203.0.113.1"), ("203.0.113.1", "203.0.113.2")],
        ),
    ],
    ids=["same", "changed", "unknown-between", "changed-after-unknown"],
)
def test_address_events(addresses: list[str | None], changes: list[tuple[str | None, str]]) -> None:
    board = StatusBoard()
    got = []
    for i, a in enumerate(addresses):
        for e in board.update_families(float(i), {"A": agreement(a, a, "198.51.100.1")}):
            got.append((e.get("old"), e.get("new")))
            assert e.get("sources") == ["s0"]  # only the sources that said it
    assert got == changes


@pytest.mark.parametrize(
    ("rounds", "counts", "kinds"),
    [
        ([True, True], [0, 0], []),
        ([False, False, True], [0, 1, 2], []),  # record failures: no round-level event
        (["boom", "boom", True], [0, 1, 2], ["failed", "recovered"]),  # the round as a whole
        (["boom", False], [0, 1], ["failed"]),  # records failing after the error: not recovered
    ],
)
def test_round_counting(rounds: list[bool | str], counts: list[int], kinds: list[str]) -> None:
    board = StatusBoard()
    befores, got = [], []
    for i, r in enumerate(rounds):
        ok, error = (r, "") if isinstance(r, bool) else (False, r)
        before, events = board.update_round(float(i), ok, error)
        befores.append(before)
        got += [e.kind for e in events]
    assert (befores, got) == (counts, kinds)


def test_saved_board_loads_back_and_compares_with_what_was(tmp_path: Path) -> None:
    path = tmp_path / StateDir.STATUS
    board = StatusBoard(path)
    board.update_families(1.0, {"A": agreement("203.0.113.1", "203.0.113.1")})
    board.update_records(1.0, result(N, "203.0.113.1"))
    board.update_round(1.0, False)
    board.update_api(1000, 990, 99.0)
    board.save()
    again = StatusBoard.load(path)
    assert again.live() == board.live()
    # a restarted daemon (or the next `once`) sees no change where there was none
    assert again.update_families(2.0, {"A": agreement("203.0.113.1", "203.0.113.1")}) == []
    assert again.update_records(2.0, result(N, "203.0.113.1")) == []
    assert again.update_round(2.0, False)[0] == 1


@pytest.mark.parametrize(
    "text", ["", "not json", "[]", '{"records": [{"nope": 1}]}', '{"records": 5}']
)
def test_unreadable_or_foreign_status_file_gives_an_empty_board(tmp_path: Path, text: str) -> None:
    (tmp_path / StateDir.STATUS).write_text(text)
    board = StatusBoard.load(tmp_path / StateDir.STATUS)
    assert board.records == {} and board.last_round is None


def test_summary_and_in_sync() -> None:
    board = StatusBoard()
    live = board.live()
    assert (summary(live, 10.0), in_sync(live)) == ("no round yet", False)
    board.update_records(100.0, result(N))
    board.update_round(100.0, True)
    assert (summary(board.live(), 112.0), in_sync(board.live())) == (
        "in sync: 1/1 records, last round 12 s ago",
        True,
    )
    board.update_records(200.0, result(F, None, "none"))
    board.update_round(200.0, False)
    board.update_round(300.0, False)
    assert (
        summary(board.live(), 300.0)
        == "in sync: 0/1 records, last round 0 s ago failed, 2 failed rounds in a row"
    )


def test_snapshot_windows_and_lists() -> None:
    day = 86400.0
    now = 100 * day
    events = [
        event("address", now - 40 * day, family="ipv4", old=None, new="203.0.113.1", sources=[]),
        event(
            "address",
            now - 2 * day,
            family="ipv4",
            old="203.0.113.1",
            new="203.0.113.2",
            sources=[],
        ),
        *[
            event("challenge_added", now - i, name=f"_acme-challenge.n{i}.test", zone="n.test")
            for i in range(59, -1, -1)
        ],
        event("failed", now - 5.5, record=KEY, message="no"),
    ]
    events.sort(key=lambda e: e.at)  # the history is oldest first
    doc = snapshot(StatusBoard().live(), events, now, version="1", daemon=None)
    assert [(t["old"], t["new"]) for t in doc["timeline"]] == [("203.0.113.1", "203.0.113.2")]
    assert (
        len(doc["challenges"]) == 20 and doc["challenges"][0]["name"] == "_acme-challenge.n0.test"
    )
    assert [f["kind"] for f in doc["failures"]] == ["failed"]
    assert len(doc["history"]) == 50 and doc["history"][0]["at"] == now
    json.dumps(doc)  # plain JSON all the way down


def address_changes(now: float, recent: int, older: int) -> list[Event]:
    """``older`` address changes before the 30 days, then ``recent`` within them, a minute
    apart, oldest first (as the history holds them)."""
    day = 86400.0
    times = [now - 40 * day + i * 60 for i in range(older)]
    times += [now - 29 * day + i * 60 for i in range(recent)]
    return [
        event("address", at, family="ipv4", old=f"10.0.{i}.1", new=f"10.0.{i + 1}.1", sources=[])
        for i, at in enumerate(times)
    ]


@pytest.mark.parametrize(
    ("recent", "older", "listed", "more"),
    [
        (0, 0, 0, 0),
        (5, 3, 5, 0),
        (TIMELINE_CHANGES, 2, TIMELINE_CHANGES, 0),
        (TIMELINE_CHANGES + 1, 0, TIMELINE_CHANGES, 1),
        (10_000, 50, TIMELINE_CHANGES, 10_000 - TIMELINE_CHANGES),
    ],
)
def test_timeline_lists_the_newest_changes_of_30_days_and_counts_the_rest(
    recent: int, older: int, listed: int, more: int
) -> None:
    now = 100 * 86400.0
    events = address_changes(now, recent, older)
    doc = snapshot(StatusBoard().live(), events, now, version="1", daemon=None)
    assert (len(doc["timeline"]), doc["timeline_more"]) == (listed, more)
    newest = [e.at for e in events[len(events) - listed :]] if listed else []
    assert [t["at"] for t in doc["timeline"]] == newest  # the newest, oldest first


def test_records_and_families_no_longer_configured_are_dropped() -> None:
    board = StatusBoard()
    board.update_families(1.0, {"A": agreement("203.0.113.1", "203.0.113.1")})
    board.update_records(1.0, result(N))
    other = RecordSpec("example.test", "www", "A")
    rec = RecordResult(other, N, "fine", (), "203.0.113.1", via="dns")
    board.update_records(2.0, RoundResult({other.key: rec}, 0, False))
    assert list(board.records) == [other.key]
    board.update_families(2.0, {})
    assert board.families == {}
    board.update_records(3.0, result(N))
    board.forget_records()
    assert board.live()["records"] == [] and board.live()["families"] == []


def full_history(path: Path, now: float) -> tuple[History, list[Event]]:
    """A history at its 4 MiB bound: an event every 2 minutes up to ``now`` (some 45 days),
    address changes, writes, challenges and failures in turn; written straight to its files."""
    kinds = [
        ("address", {"family": "ipv4", "old": "10.0.0.1", "new": "10.0.0.2", "sources": []}),
        ("written", {"record": KEY, "method": "PATCH", "old": "10.0.0.1", "new": "10.0.0.2"}),
        ("challenge_added", {"name": "_acme-challenge.example.test", "zone": "example.test"}),
        ("failed", {"record": KEY, "message": "TransIP answered 500"}),
    ]
    history = History(StateDir(path))
    lines: list[str] = []  # newest first
    size = 0
    while True:
        kind, fields = kinds[len(lines) % len(kinds)]
        line = event(kind, now - 120 * len(lines), **fields).to_line() + "\n"
        if size + len(line) > history.max_bytes - 64:
            break
        lines.append(line)
        size += len(line)
    lines.reverse()
    half = len(lines) // 2
    history.rotated.write_text("".join(lines[:half]))
    history.path.write_text("".join(lines[half:]))
    return history, history.events()


def test_the_status_page_keeps_a_bounded_part_of_a_full_history(tmp_path: Path) -> None:
    """A year of rounds fills the history to its 4 MiB (some 26 MiB as events): the
    daemon's status page keeps only what it shows, read again when the files change."""
    now = 1e9
    history, events = full_history(tmp_path, now)
    in_30_days = [e.at for e in events if e.kind == "address" and e.at >= now - 30 * 86400]
    del events
    log = EventLog(history)
    gc.collect()
    tracemalloc.start()
    try:
        recent = log.recent()
        gc.collect()
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 1024 * 1024
    sizes = [len(recent.address), len(recent.challenges), len(recent.failures), len(recent.newest)]
    assert sizes == [TIMELINE_CHANGES, 20, 20, 50]
    assert list(recent.address_times) == in_30_days
    assert snapshot({**StatusBoard().live()}, recent, now, version="1", daemon=None) == snapshot(
        StatusBoard().live(), history.events(), now, version="1", daemon=None
    )
    assert log.recent() is recent  # the files did not change
    history.append(event("stopped", now + 1, pid=1))
    assert log.recent() is not recent and log.recent().newest[-1].kind == "stopped"
