"""The reporter: one place that turns what happened into metrics, health and sd_notify.

The daemon hands it each round's agreements and result, the client's state and each time
the request budget made work wait; nothing else updates metrics, health or the systemd
``STATUS=`` line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ddnsd.model import Outcome

if TYPE_CHECKING:
    from ddnsd.detect import Agreement
    from ddnsd.observe.health import Health
    from ddnsd.observe.metrics import Metrics
    from ddnsd.reconcile.result import RoundResult
    from ddnsd.sdnotify import Notifier
    from ddnsd.transip.client import TransipClient

log = logging.getLogger(__name__)


class Reporter:
    """Feeds :class:`Metrics`, :class:`Health` and the sd_notify :class:`Notifier`."""

    def __init__(self, metrics: Metrics, health: Health, notifier: Notifier) -> None:
        self.metrics = metrics
        self.health = health
        self.notifier = notifier

    def agreements(self, agreements: Mapping[str, Agreement]) -> None:
        """The detected address per family, disagreements and failing sources."""
        for agreement in agreements.values():
            label = f"ipv{agreement.family.value}"
            self.metrics.set_detected_address(label, agreement.address)
            if agreement.disagreement:
                self.metrics.detection_disagreements.labels(family=label).inc()
            for rep in agreement.reports:
                if not rep.ok:
                    self.metrics.source_failures.labels(source=rep.source).inc()

    def round(
        self,
        when: float,
        result: RoundResult | None,
        agreements: Mapping[str, Agreement] | None = None,
    ) -> bool:
        """A finished round (``result`` None: it failed as a whole); whether it was ok.

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
        self.metrics.observe_round(ok, when)
        return ok

    def idle_round(self, when: float) -> None:
        """A round of a daemon with nothing to keep in sync (ACME or push only)."""
        self.health.record_round(True, when)
        self.metrics.observe_round(True, when)

    def client(self, client: TransipClient) -> None:
        """The token's expiry and the requests left in TransIP's rate-limit window."""
        expires = client.auth.expires_at()
        if expires is not None:
            self.metrics.token_expiry.set(expires)
        remaining = client.rate_limit.remaining
        if remaining is not None:
            self.metrics.transip_rate_limit_remaining.set(remaining)
        budget = client.transport.budget
        if budget is not None:
            self.metrics.api_budget_remaining.set(budget.remaining())

    def deferred(self, kind: str, until: float) -> None:
        """The request budget made ``kind`` work wait until ``until`` (any thread)."""
        self.metrics.api_deferred.labels(kind=kind).inc()

    def status(self) -> None:
        """Send the current one-line status to systemd."""
        self.notifier.status(self.health.status_line())
