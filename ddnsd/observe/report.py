"""The reporter: one place that turns what happened into metrics, health, sd_notify and events.

The daemon hands it each round's agreements and result, the client's state, each time
the request budget made work wait, and its own start, stop and reloads; ``ddnsd once`` its
one round; the ACME challenge service its challenges (``event``). Nothing else updates
metrics, health, the systemd ``STATUS=`` line, the status board or the history, or sends
a notification.

The status board and the :class:`EventLog` (history file, notifications) are optional:
without them the reporter feeds metrics, health and sd_notify only. A hook process uses
an :class:`EventLog` alone (history only: no metrics, no Apprise in a hook).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ddnsd import __version__
from ddnsd.model import Outcome
from ddnsd.observe.events import Event, event

if TYPE_CHECKING:
    from ddnsd.detect.agree import Agreement
    from ddnsd.observe.health import Health
    from ddnsd.observe.history import History
    from ddnsd.observe.metrics import Metrics
    from ddnsd.observe.notify import Notifications
    from ddnsd.observe.status import Recent, StatusBoard
    from ddnsd.reconcile.result import RoundResult
    from ddnsd.sdnotify import Notifier
    from ddnsd.transip.client import TransipClient

log = logging.getLogger(__name__)


class EventLog:
    """Where events go: the history file and the notifications, each when there is one."""

    def __init__(self, history: History | None = None, notify: Notifications | None = None) -> None:
        self.history = history
        self.notify = notify
        self._recent: tuple[tuple[int, ...], Recent] | None = None

    def __call__(self, e: Event) -> None:
        log.debug("event %s", e.to_line())
        if self.history is not None:
            self.history.append(e)
        if self.notify is not None:
            self.notify.event(e)

    def recent(self) -> Recent:
        """What the status document shows of the history: read again only when the files
        changed, and never more of it than the document shows (:class:`Recent`)."""
        from ddnsd.observe.status import Recent

        if self.history is None:
            return Recent()
        stamp = self.history.stamp()
        cached = self._recent
        if cached is None or cached[0] != stamp:
            cached = self._recent = (stamp, Recent.of(self.history.scan()))
        return cached[1]

    def close(self, grace: float) -> None:
        if self.notify is not None:
            self.notify.close(grace)


class Reporter:
    """Feeds :class:`Metrics`, :class:`Health`, the sd_notify :class:`Notifier`, the
    :class:`StatusBoard` and the :class:`EventLog`."""

    def __init__(
        self,
        metrics: Metrics,
        health: Health,
        notifier: Notifier,
        *,
        board: StatusBoard | None = None,
        events: EventLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.notifier = notifier
        self.board = board
        self.events = events or EventLog()
        self.clock = clock
        self.daemon: dict[str, Any] | None = None  # pid and start, once "started"

    def event(self, e: Event) -> None:
        """Log one event (the challenge service's sink)."""
        self.events(e)

    def _log_all(self, events: list[Event]) -> None:
        for e in events:
            self.events(e)

    def agreements(self, agreements: Mapping[str, Agreement], when: float | None = None) -> None:
        """The detected address per family, disagreements and failing sources (``when``:
        the round's start, default now)."""
        for agreement in agreements.values():
            label = f"ipv{agreement.family.value}"
            self.metrics.set_detected_address(label, agreement.address)
            if agreement.disagreement:
                self.metrics.detection_disagreements.labels(family=label).inc()
            for rep in agreement.reports:
                if not rep.ok:
                    self.metrics.source_failures.labels(source=rep.source).inc()
        if self.board is not None:
            at = self.clock() if when is None else when
            self._log_all(self.board.update_families(at, agreements))

    def round_started(self) -> None:
        """A round begins (the heartbeat's ``/start``, when asked for)."""
        if self.events.notify is not None:
            self.events.notify.round_started()

    def round(
        self,
        when: float,
        result: RoundResult | None,
        agreements: Mapping[str, Agreement] | None = None,
        *,
        error: str = "",
    ) -> bool:
        """A finished round (``result`` None: it failed as a whole, ``error`` says why);
        whether it was ok.

        Ok means every record in sync, updated or deferred by TransIP's rate limit (it
        waits for the budget, nothing failed), and every family's sources agreed. A round
        with no records to keep (an ACME-only daemon) is ok.
        """
        if result is None:
            ok = False
            self.health.record_round(False, when)
        else:
            for key, rec in result.records.items():
                self.metrics.record_outcome(key, rec.outcome)
            addresses_ok = all(a.address is not None for a in (agreements or {}).values())
            waiting = (Outcome.NOOP, Outcome.UPDATED, Outcome.DEFERRED)
            ok = addresses_ok and all(o in waiting for o in result.outcomes.values())
            self.health.record_round(ok, when, outcomes=result.outcomes)
            self.health.set_deferred(result.deferred, result.deferred_until)
            if result.deferred:
                self.deferred(
                    "records",
                    result.deferred,
                    result.deferred_until,
                    "TransIP's rate limit (the request budget every ddnsd process of this "
                    "login shares)",
                )
        self.metrics.observe_round(ok, when)
        self._finished(when, ok, result, error or ("" if result is not None else "round failed"))
        return ok

    def idle_round(self, when: float) -> None:
        """A round of a daemon with nothing to keep in sync (ACME or push only)."""
        self.health.record_round(True, when)
        self.metrics.observe_round(True, when)
        if self.board is not None:
            self.board.forget_records()
        self._finished(when, True, None, "")

    def _finished(self, when: float, ok: bool, result: RoundResult | None, error: str) -> None:
        problems = [error] if error else []
        if result is not None:
            problems = [r.message for r in result.records.values() if not r.outcome.ok]
        before = 0
        if self.board is not None:
            if result is not None:
                self._log_all(self.board.update_records(when, result))
            before, events = self.board.update_round(when, ok, error)
            self._log_all(events)
        if self.events.notify is not None:
            self.events.notify.round(ok, before, problems)

    def client(self, client: TransipClient) -> None:
        """Whether a token is usable, its expiry, and the requests left in TransIP's
        rate-limit window."""
        self.health.set_token_problem(client.auth.problem())
        expires = client.auth.expires_at()
        if expires is not None:
            self.metrics.token_expiry.set(expires)
        rate = client.rate_limit
        if rate.remaining is not None:
            self.metrics.transip_rate_limit_remaining.set(rate.remaining)
        budget = client.transport.budget
        if budget is not None:
            # The login's shared budget: hooks' and `once`'s requests count too, and the
            # window empties as time passes, not only when this process hears TransIP.
            limit, in_use, leaves = budget.window_state()
            self.metrics.api_budget_remaining.set(max(limit - in_use, 0))
            if self.board is not None:
                self.board.set_api(limit, max(limit - in_use, 0), leaves)
        elif self.board is not None:
            self.board.update_api(rate.limit, rate.remaining, rate.reset)

    def budget_wait(self, kind: str, until: float) -> None:
        """The request budget made ``kind`` work wait until ``until`` (any thread)."""
        self.metrics.api_deferred.labels(kind=kind).inc()

    def status(self) -> None:
        """Send the current one-line status to systemd; save the status board."""
        self.notifier.status(self.health.status_line())
        if self.board is not None:
            self.board.save()

    # -- the daemon's life, deferrals, notifications ---------------------------------------

    def started(self, records: int) -> None:
        now = self.clock()
        self.daemon = {"pid": os.getpid(), "started_at": round(now, 3)}
        self.events(event("started", now, version=__version__, pid=os.getpid(), records=records))

    def reloaded(self, config: str, events: EventLog) -> None:
        """The configuration was reloaded: ``events`` (its notifications) replaces the old."""
        old, self.events = self.events, events
        old.close(0.0)
        self.events(event("reloaded", self.clock(), config=config))

    def stopped(self, grace: float = 5.0) -> None:
        """The daemon stops: the event, then what is queued to send (at most ``grace`` s)."""
        self.events(event("stopped", self.clock(), pid=os.getpid()))
        self.close(grace)

    def close(self, grace: float = 5.0) -> None:
        """Send what is queued (at most ``grace`` seconds): the end of ``once`` and of ``run``."""
        self.events.close(grace)

    def deferred(self, what: str, count: int, until: float | None, reason: str) -> None:
        """Work put off (by the API budget): ``count`` ``what`` (e.g. "records") until when."""
        self.events(
            event("deferred", self.clock(), what=what, count=count, until=until, reason=reason)
        )

    def notify_failed(self, kind: str) -> None:
        """A notification ("message") or heartbeat could not be sent."""
        self.metrics.notify_failures.labels(kind=kind).inc()

    def snapshot(self) -> dict[str, Any]:
        """The ``/api/status`` document (docs/status.md)."""
        from ddnsd.observe.status import StatusBoard, snapshot

        board = self.board if self.board is not None else StatusBoard()
        return snapshot(
            board.live(),
            self.events.recent(),
            self.clock(),
            version=__version__,
            daemon=self.daemon,
            set_aside=board.set_aside(),
        )
