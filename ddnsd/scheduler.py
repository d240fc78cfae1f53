"""APScheduler wiring: the detection round and the token renewal job.

The round runs every ``interval`` (jittered), never twice at once (``max_instances=1``),
missed runs coalesced. After a failed round the next one comes sooner, backing off
exponentially from 5 s up to the interval. ``trigger()`` (SIGUSR1, SIGHUP, netlink
events, router push) runs a round now; asked while one runs, it runs another right after
it (APScheduler would skip a run due while one runs, and the request with it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("ddnsd.scheduler")

ROUND_JOB = "round"


def backoff(failures: int, interval: float, base: float = 5.0) -> float:
    """Seconds to the next round after ``failures`` failed rounds in a row (0 → interval)."""
    if failures <= 0:
        return interval
    return float(min(interval, base * 2 ** (failures - 1)))


class Scheduler:
    def __init__(
        self,
        round_fn: Callable[[], bool],
        *,
        interval: float,
        jitter: float = 0.0,
        periodic: dict[str, tuple[Callable[[], None], float]] | None = None,
    ) -> None:
        """``periodic``: more jobs, name → (function, every seconds), e.g. token renewal."""
        self._round_fn = round_fn
        self.interval = interval
        self.failures = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._running = False
        self._requested = False  # trigger() while a round ran: one more round after it
        self._sched = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._sched.add_job(
            self._run_round,
            IntervalTrigger(seconds=interval, jitter=jitter or None, timezone=UTC),
            id=ROUND_JOB,
            next_run_time=datetime.now(UTC),
        )
        for name, (fn, every) in (periodic or {}).items():
            self._sched.add_job(fn, IntervalTrigger(seconds=every, timezone=UTC), id=name)

    def _run_round(self) -> None:
        with self._lock:
            self._running = True
        self._idle.clear()
        try:
            again = True
            while again:
                try:
                    ok = self._round_fn()
                except Exception:  # a bug in a round must not stop the daemon
                    log.exception("round crashed")
                    ok = False
                with self._lock:
                    self.failures = 0 if ok else self.failures + 1
                    again, self._requested = self._requested, False
                    self._running = again
                    if not ok and not again:
                        delay = backoff(self.failures, self.interval)
                        log.info(
                            "round failed (%d in a row); next try in %.0f s", self.failures, delay
                        )
                        self._reschedule(delay)
        finally:
            with self._lock:
                self._running = False
            self._idle.set()

    def _reschedule(self, delay: float) -> None:
        job = self._sched.get_job(ROUND_JOB)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))

    def reschedule(self, interval: float, jitter: float = 0.0) -> None:
        """Apply a new interval (after a reload); the next round follows the new rhythm."""
        with self._lock:
            if interval == self.interval:
                return
            self.interval = interval
            self._sched.reschedule_job(
                ROUND_JOB,
                trigger=IntervalTrigger(seconds=interval, jitter=jitter or None, timezone=UTC),
            )
        log.info("round interval is now %.0f s", interval)

    def trigger(self, reason: str) -> None:
        """Run a round as soon as possible (coalesced with one already pending)."""
        log.info("round requested: %s", reason)
        with self._lock:
            if self._running:
                self._requested = True
                return
            self._reschedule(0)
        self._sched.wakeup()

    def start(self) -> None:
        self._sched.start()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def shutdown(self, timeout: float = 9.0) -> None:
        """Let a running round finish (up to ``timeout``), then stop."""
        self._sched.pause()
        self.wait_idle(timeout)
        self._sched.shutdown(wait=False)
