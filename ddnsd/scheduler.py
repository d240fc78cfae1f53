"""APScheduler wiring: the detection round and the token renewal job.

The round runs every ``interval`` (jittered), missed runs coalesced. After a failed round
the next one comes sooner, backing off exponentially from 5 s up to the interval.
``trigger()`` (SIGUSR1, netlink events, router push) asks for a round now, ``run_at()``
(work deferred by TransIP's rate limit) for one at a given time: a second job, resting
until asked, is moved to that time unless it is due by then already. Rounds never
overlap: each takes the round lock. A round asked for while one runs waits for it and
then runs (the running round may have looked before the reason for it arose), unless a
round that began at or after the time asked for has served it already.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

ROUND_JOB = "round"
ASKED_JOB = "round-asked"
ASKED_AT_ONCE = 8  # asked rounds queued at once (one runs, the rest find it served)
ASKED_IDLE_DAYS = 3650  # after an asked round the job rests this long, unless asked again


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
        self._lock = threading.Lock()  # the fields below
        self._round_lock = threading.Lock()  # one round at a time
        self._last_start = datetime.min.replace(tzinfo=UTC)
        self._stopping = False
        self._idle = threading.Event()
        self._idle.set()
        self._sched = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._sched.add_job(
            self._run_round,
            IntervalTrigger(seconds=interval, jitter=jitter or None, timezone=UTC),
            id=ROUND_JOB,
            next_run_time=datetime.now(UTC),
        )
        self._sched.add_job(  # paused until asked for (next_run_time=None); see _ask
            self._run_round,
            IntervalTrigger(days=ASKED_IDLE_DAYS, timezone=UTC),
            id=ASKED_JOB,
            next_run_time=None,
            max_instances=ASKED_AT_ONCE,
        )
        for name, (fn, every) in (periodic or {}).items():
            self._sched.add_job(fn, IntervalTrigger(seconds=every, timezone=UTC), id=name)

    def _run_round(self, asked_for: datetime | None = None) -> None:
        """One round, after any running one; none when one began since ``asked_for``."""
        with self._round_lock:
            with self._lock:
                now = datetime.now(UTC)
                if self._stopping or (asked_for is not None and self._last_start >= asked_for):
                    return
                self._last_start = now
                self._idle.clear()
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
                    job = self._sched.get_job(ROUND_JOB)
                    if job is not None:
                        job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))

    def _ask(self, at: datetime) -> bool:
        """A round at ``at`` or soon after; False when one is asked for by then already.

        Under the lock: a trigger and a rate-limit reset asking at once must not both see
        the resting job and leave the later time in place."""
        with self._lock:
            job = self._sched.get_job(ASKED_JOB)
            if job is None or (job.next_run_time is not None and job.next_run_time <= at):
                return False
            job.modify(next_run_time=at, args=[at])
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
        """Run a round at ``when`` (Unix time) unless one is asked for by then already."""
        at = datetime.fromtimestamp(when, UTC)
        if self._ask(at):
            log.info("next round at %s: %s", at.astimezone().strftime("%H:%M:%S"), reason)

    def trigger(self, reason: str) -> None:
        """Run a round as soon as possible (coalesced with one already pending)."""
        log.info("round requested: %s", reason)
        self._ask(datetime.now(UTC))

    def start(self) -> None:
        self._sched.start()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def shutdown(self, timeout: float = 9.0) -> None:
        """Let a running round finish (up to ``timeout``), then stop; no round starts after."""
        with self._lock:
            self._stopping = True
        self._sched.pause()
        self.wait_idle(timeout)
        self._sched.shutdown(wait=False)
