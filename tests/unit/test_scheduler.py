"""ddnsd.scheduler: a round asked for while one runs is not lost (SIGHUP during a round,
work deferred by the rate limit until a moment that comes before the round ends)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from ddnsd.scheduler import Scheduler

WAIT = 10.0  # bounded waits for the scheduler's threads, not speed assertions


class Rounds:
    """A round function that blocks its first round until released and counts rounds."""

    def __init__(self, during_first: Callable[[], None] = lambda: None) -> None:
        self.count = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.second = threading.Event()
        self.during_first = during_first

    def __call__(self) -> bool:
        self.count += 1
        if self.count == 1:
            self.started.set()
            self.during_first()
            assert self.release.wait(WAIT)
        else:
            self.second.set()
        return True


@pytest.fixture
def make() -> object:
    started: list[Scheduler] = []

    def build(rounds: Rounds) -> Scheduler:
        s = Scheduler(rounds, interval=3600)  # no round of its own within the test
        started.append(s)
        s.start()
        return s

    yield build
    for s in started:
        s.shutdown(timeout=1)


class Skipped(logging.Handler):
    """Sees APScheduler skip the round asked for because one is still running."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "maximum number of running instances" in record.getMessage():
            self.seen.set()


def test_a_trigger_during_a_round_runs_another_after_it(
    make: Callable[[Rounds], Scheduler],
) -> None:
    skipped = Skipped()
    logging.getLogger("apscheduler").addHandler(skipped)
    try:
        rounds = Rounds()
        scheduler = make(rounds)
        assert rounds.started.wait(WAIT)
        scheduler.trigger("SIGHUP")  # the running round may already have looked
        rounds.release.set()
        assert rounds.second.wait(WAIT)  # kept for right after the round
        assert not skipped.seen.is_set()  # not handed to APScheduler to skip, with a warning
    finally:
        logging.getLogger("apscheduler").removeHandler(skipped)


def test_run_at_from_inside_a_round_is_kept(make: Callable[[Rounds], Scheduler]) -> None:
    holder: list[Scheduler] = []
    rounds = Rounds(during_first=lambda: holder[0].run_at(time.time(), "deferred work"))
    holder.append(make(rounds))
    assert rounds.started.wait(WAIT)
    rounds.release.set()  # the time asked for passed while the round still ran
    assert rounds.second.wait(WAIT)


def test_no_extra_round_without_a_request(make: Callable[[Rounds], Scheduler]) -> None:
    rounds = Rounds()
    scheduler = make(rounds)
    assert rounds.started.wait(WAIT)
    rounds.release.set()
    assert scheduler.wait_idle(WAIT)
    assert not rounds.second.wait(0.5)
    assert rounds.count == 1


def test_a_trigger_during_a_round_runs_one_more_round_after_it() -> None:
    entered = [threading.Event() for _ in range(3)]
    release = threading.Event()
    rounds: list[int] = []

    def round_fn() -> bool:
        n = len(rounds)
        rounds.append(n)
        entered[min(n, 2)].set()
        if n == 0:
            release.wait(30)  # the first round is still running while the triggers come
        return True

    s = Scheduler(round_fn, interval=3600)  # no round of its own after the first
    s.start()
    try:
        assert entered[0].wait(30)
        s.trigger("SIGHUP")
        s.trigger("SIGUSR1")  # both coalesce into one more round
        release.set()
        assert entered[1].wait(30), "the round asked for during the first one never ran"
        assert s.wait_idle(30)
        assert rounds == [0, 1]
        s.trigger("later")  # nothing running: a round now, as before
        assert entered[2].wait(30)
    finally:
        s.shutdown(timeout=5)


def _trigger_as_the_first_round_ends() -> bool:
    """True when the round asked for as the first one ends runs."""
    ending = threading.Event()
    second = threading.Event()
    rounds: list[int] = []

    def round_fn() -> bool:
        rounds.append(len(rounds))
        (ending if len(rounds) == 1 else second).set()
        return True

    s = Scheduler(round_fn, interval=3600)  # no round of its own after the first
    s.start()
    try:
        assert ending.wait(30)
        s.trigger("address change")  # races with the end of the round and its bookkeeping
        return second.wait(30)
    finally:
        s.shutdown(timeout=5)


def test_a_trigger_as_a_round_ends_is_not_lost() -> None:
    assert all(_trigger_as_the_first_round_ends() for _ in range(10))
