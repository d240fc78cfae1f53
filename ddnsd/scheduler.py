"""APScheduler wiring: the detection round and the token renewal job.

The round runs every ``interval`` (jittered), never twice at once (``max_instances=1``),
missed runs coalesced. After a failed round the next one comes sooner, backing off
exponentially from 5 s up to the interval. ``trigger()`` (SIGUSR1, netlink events, router
push) runs a round now; ``run_at()`` (work deferred by TransIP's rate limit) at a given
time. A request that comes while a round runs is kept and served right after it (the
running round may have looked before the reason for it arose).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

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
        self._wanted: datetime | None = None  # a round asked for while one was running
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
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
        self._sched.add_listener(self._after_round, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _run_round(self) -> None:
        with self._lock:
            self._idle.clear()
            self._take_wanted()  # this round serves what was asked for until now
        try:
            ok = self._round_fn()
        except Exception:  # a bug in a round must not stop the daemon
            log.exception("round crashed")
            ok = False
        with self._lock:
            self._idle.set()
            self.failures = 0 if ok else self.failures + 1
            if not ok:
                delay = backoff(self.failures, self.interval)
                log.info("round failed (%d in a row); next try in %.0f s", self.failures, delay)
                self._reschedule(delay)

    def _after_round(self, event: JobExecutionEvent) -> None:
        """Once APScheduler counts the round as done: serve what was asked for meanwhile.

        From a thread of ours: a round that ends before APScheduler has registered its
        done-callback gets this called in APScheduler's own thread, which still holds its
        job-store lock and has not yet written the job's next run time; read there, the
        round that just ran would look due and the one asked for would be lost."""
        if event.job_id == ROUND_JOB:
            threading.Thread(target=self._serve_wanted, name="round-wanted", daemon=True).start()

    def _serve_wanted(self) -> None:
        with self._lock:  # get_job below waits for APScheduler's lock: the job is current
            wanted = self._take_wanted()
            if wanted is not None:
                self._run_by(wanted)

    def _take_wanted(self) -> datetime | None:
        wanted, self._wanted = self._wanted, None
        return wanted

    def _reschedule(self, delay: float) -> None:
        job = self._sched.get_job(ROUND_JOB)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))

    def _run_by(self, at: datetime) -> bool:
        """Make the next round come no later than ``at``; False when one is due sooner.
        Asked while a round runs, it is kept for right after that round (moving the job
        now would only make APScheduler skip it, with a warning: one round at a time)."""
        if not self._idle.is_set():
            self._wanted = at if self._wanted is None else min(self._wanted, at)
            return True
        job = self._sched.get_job(ROUND_JOB)
        if job is None or (job.next_run_time is not None and job.next_run_time <= at):
            return False
        job.modify(next_run_time=at)
        self._sched.wakeup()  # it may be asleep until the round it had planned
        return True

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

    def run_at(self, when: float, reason: str) -> None:
        """Run a round at ``when`` (Unix time) unless one is due sooner anyway."""
        at = datetime.fromtimestamp(when, UTC)
        with self._lock:
            moved = self._run_by(at)
        if moved:
            log.info("next round at %s: %s", at.astimezone().strftime("%H:%M:%S"), reason)

    def trigger(self, reason: str) -> None:
        """Run a round as soon as possible (coalesced with one already pending)."""
        log.info("round requested: %s", reason)
        with self._lock:
            self._run_by(datetime.now(UTC))

    def start(self) -> None:
        self._sched.start()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def shutdown(self, timeout: float = 9.0) -> None:
        """Let a running round finish (up to ``timeout``), then stop."""
        self._sched.pause()
        self.wait_idle(timeout)
        self._sched.shutdown(wait=False)
