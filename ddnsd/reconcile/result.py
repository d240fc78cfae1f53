"""What a round gives back: one :class:`RecordResult` per record (applier.py) in a
:class:`RoundResult`, with what the round cost and until when the budget put records off."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ddnsd.model import Outcome, RecordSpec
from ddnsd.reconcile.applier import RecordResult


@dataclass(frozen=True, slots=True)
class RoundResult:
    """Per-record results of one round (keyed by ``spec.key``) and what it cost."""

    records: dict[str, RecordResult]
    api_requests: int  # client calls made this round (the client's own retries not counted)
    api_consulted: bool
    deferred_until: float | None = None  # the budget put records off until then

    @property
    def outcomes(self) -> dict[str, Outcome]:
        return {k: r.outcome for k, r in self.records.items()}

    @property
    def ok(self) -> bool:
        """Every record is in sync or was updated."""
        return all(r.outcome.ok for r in self.records.values())

    @property
    def changed(self) -> bool:
        return any(r.outcome is Outcome.UPDATED for r in self.records.values())

    @property
    def deferred(self) -> int:
        """Records put off until ``deferred_until`` (TransIP's rate limit)."""
        return sum(1 for r in self.records.values() if r.outcome is Outcome.DEFERRED)


def deferred(spec: RecordSpec, until: float) -> RecordResult:
    """``spec``'s result when TransIP's rate limit put it off until ``until``."""
    clock = time.strftime("%H:%M:%S", time.localtime(until))
    return RecordResult(
        spec,
        Outcome.DEFERRED,
        f"{spec.key}: deferred until {clock} (TransIP's rate limit)",
        via="none",
    )
