"""The scheduler: a round asked for while one runs is not lost."""

from __future__ import annotations

import threading

from ddnsd.scheduler import Scheduler


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
