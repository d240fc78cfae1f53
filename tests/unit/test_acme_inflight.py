"""May a challenge POST still land? The rule, the per-call locks, and the journal keeping
a value as pending removal until no POST of it can land."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ddnsd.acme.inflight import BEING_SAVED, WriteLocks, landing_window, may_still_land
from ddnsd.acme.journal import DEFAULT_WINDOW, Journal
from ddnsd.model import DnsEntry
from ddnsd.statedir import StateDir

VALUE = DnsEntry("_acme-challenge", 60, "TXT", "v1")
ZONE, FQDN = "example.test", "_acme-challenge.example.test"
WINDOW = landing_window(10.0)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("attempt", "now", "in_flight", "lands"),
    [
        pytest.param(None, 5000.0, False, False, id="every-post-answered"),
        pytest.param(None, 5000.0, True, True, id="call-still-running"),
        pytest.param(1000.0, 1000.0 + 3600, True, True, id="call-running-for-an-hour"),
        pytest.param(1000.0, 1000.0, False, True, id="call-just-over"),
        pytest.param(1000.0, 1000.0 + WINDOW - 0.1, False, True, id="inside-the-window"),
        pytest.param(1000.0, 1000.0 + WINDOW, False, False, id="window-passed"),
        pytest.param(1000.0, 500.0, False, True, id="clock-went-backwards"),
    ],
)
def test_may_still_land(attempt: float | None, now: float, in_flight: bool, lands: bool) -> None:
    assert may_still_land(attempt, WINDOW, now, in_flight=in_flight) is lands


def test_the_window_is_the_client_timeout_plus_tranips_saving_time() -> None:
    assert landing_window(10.0) == 10.0 + BEING_SAVED == DEFAULT_WINDOW
    assert landing_window(-1.0) == BEING_SAVED


def test_a_lock_is_active_while_held_and_gone_after(tmp_path: Path) -> None:
    locks = WriteLocks(StateDir(tmp_path))
    with locks.hold() as ident:
        assert locks.active(ident) is True  # another descriptor, even in this process
    assert locks.active(ident) is False
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writers_lock_is_free_and_its_file_removed(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from ddnsd.acme.inflight import WriteLocks
        from ddnsd.statedir import StateDir
        with WriteLocks(StateDir(Path({str(tmp_path)!r}))).hold() as ident:
            print(ident, flush=True)
            sys.stdin.readline()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        ident = child.stdout.readline().strip()
        assert WriteLocks(StateDir(tmp_path)).active(ident) is True
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert [p.name for p in tmp_path.iterdir()] == [f".acme-post-{ident}.lock"]
        assert WriteLocks(StateDir(tmp_path)).active(ident) is False
        assert list(tmp_path.iterdir()) == []
    finally:
        if child.poll() is None:
            child.kill()


# -- the journal ----------------------------------------------------------------------------


def test_an_answered_post_leaves_nothing_in_doubt(tmp_path: Path) -> None:
    journal = Journal(StateDir(tmp_path), clock=Clock())
    with journal.locks.hold() as writer:
        assert journal.start_post(ZONE, VALUE, FQDN, writer, WINDOW) is False
        assert journal.entries()[0].writer == writer
        journal.settle(ZONE, VALUE, writer, in_doubt=False)
    (entry,) = journal.entries()
    assert (entry.attempt, entry.writer) == (None, None)
    assert journal.finish_removal(ZONE, VALUE) is None
    assert journal.entries() == []


def test_removed_while_its_post_runs_it_stays_until_no_post_can_land(tmp_path: Path) -> None:
    clock = Clock()
    journal = Journal(StateDir(tmp_path), clock=clock)
    with journal.locks.hold() as writer:
        journal.start_post(ZONE, VALUE, FQDN, writer, WINDOW)
        clock.now += 3600  # a long call (a budget wait, a slow TransIP)
        kept = journal.finish_removal(ZONE, VALUE)
        assert kept is not None and kept.pending_removal
        # every sweep deletes it again wherever it landed, and keeps it pending
        assert [e.content for e in journal.sweepable(max_age=60)] == ["v1"]
        assert journal.finish_removal(ZONE, VALUE) is not None
    # The call ended without saying how (the process was killed): the window starts when
    # that is noticed.
    clock.now += 5
    assert [e.content for e in journal.sweepable(max_age=60)] == ["v1"]
    (entry,) = journal.entries()
    assert (entry.attempt, entry.writer, entry.pending_removal) == (clock.now, None, True)
    clock.now += WINDOW - 1
    assert journal.finish_removal(ZONE, VALUE) is not None  # a POST may still land
    clock.now += 1
    assert [e.content for e in journal.sweepable(max_age=3600)] == ["v1"]
    assert journal.finish_removal(ZONE, VALUE) is None
    assert journal.entries() == []


def test_a_stale_value_is_removed_at_once_and_forgotten_after_the_window(
    tmp_path: Path,
) -> None:
    clock = Clock()
    journal = Journal(StateDir(tmp_path), clock=clock)
    with journal.locks.hold() as writer:
        journal.start_post(ZONE, VALUE, FQDN, writer, WINDOW)
        clock.now += 7200
        assert journal.sweepable(max_age=3600) == []  # its call still runs: not touched
    # The process was killed (its lock is free): the sweep removes the value now ...
    assert [e.content for e in journal.sweepable(max_age=3600)] == ["v1"]
    kept = journal.finish_removal(ZONE, VALUE)
    assert kept is not None and kept.pending_removal  # ... and keeps it while a POST may land
    assert [e.content for e in journal.sweepable(max_age=3600)] == ["v1"]  # swept again
    assert journal.finish_removal(ZONE, VALUE) is not None
    clock.now += WINDOW
    assert [e.content for e in journal.sweepable(max_age=3600)] == ["v1"]
    assert journal.finish_removal(ZONE, VALUE) is None


def test_an_unanswered_post_keeps_the_value_for_the_window(tmp_path: Path) -> None:
    clock = Clock()
    journal = Journal(StateDir(tmp_path), clock=clock)
    with journal.locks.hold() as writer:
        journal.start_post(ZONE, VALUE, FQDN, writer, 30.0)
        clock.now += 2
        journal.settle(ZONE, VALUE, writer, in_doubt=True)
    assert journal.entries()[0].attempt == clock.now
    clock.now += 29
    assert journal.finish_removal(ZONE, VALUE) is not None
    clock.now += 1
    assert journal.finish_removal(ZONE, VALUE) is None


def test_a_second_present_of_a_value_in_doubt_stays_in_doubt(tmp_path: Path) -> None:
    journal = Journal(StateDir(tmp_path), clock=Clock())
    with journal.locks.hold() as first:
        journal.start_post(ZONE, VALUE, FQDN, first, WINDOW)
    with journal.locks.hold() as second:
        assert journal.start_post(ZONE, VALUE, FQDN, second, WINDOW) is True
    assert len(journal.entries()) == 1


@pytest.mark.parametrize(
    ("version_1_entry", "pending"),
    [
        pytest.param({"created": 1_000_000.0 - 10}, True, id="young: its POST may land"),
        pytest.param({"created": 1_000_000.0 - 3600}, False, id="old"),
    ],
)
def test_a_version_1_journal_is_read(
    tmp_path: Path, version_1_entry: dict[str, float], pending: bool
) -> None:
    entry = {
        "domain": ZONE,
        "name": VALUE.name,
        "expire": 60,
        "type": "TXT",
        "content": VALUE.content,
        "fqdn": FQDN,
        **version_1_entry,
    }
    (tmp_path / "acme-journal.json").write_text(json.dumps({"version": 1, "entries": [entry]}))
    journal = Journal(StateDir(tmp_path), clock=Clock())
    (read,) = journal.entries()
    assert (read.attempt, read.writer, read.window) == (entry["created"], None, DEFAULT_WINDOW)
    assert (journal.finish_removal(ZONE, VALUE) is not None) is pending
