"""k-of-n agreement: ask every source at once, accept an address only when enough agree.

Rule: the address reported by the most sources is accepted when at least ``agree``
sources reported it and no other address was reported equally often. Anything else —
too few answers, or a tie/split between addresses — yields ``address=None`` and keeps
DNS unchanged. ``Agreement.disagreement`` tells a split (sources answered, differently)
from plain failure, so the caller can count it.

Sources run concurrently on a thread pool; a source still running after ``timeout``
seconds is reported as failed ("no answer within …"). Once the outcome cannot change
any more (the leader is at least ``agree`` and ahead of the runner-up by more than the
sources still running) the rest are not waited for, unless ``wait_all`` (``ddnsd ip``).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ddnsd.detect.base import Detector, Family, SourceFailed
from ddnsd.detect.validate import combine_ipv6_host, validate_ipv6_host

__all__ = [
    "Agreement",
    "SourceReport",
    "combine_ipv6_host",
    "detect_agreed",
    "validate_ipv6_host",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceReport:
    """What one source said: an address, or the error text (never both)."""

    source: str
    address: str | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.address is not None


@dataclass(frozen=True, slots=True)
class Agreement:
    """The outcome of one agreement round for one family."""

    family: Family
    address: str | None
    reports: list[SourceReport] = field(default_factory=list)
    agree: int = 1
    reason: str = ""  # why address is None (one sentence), "" when accepted

    @property
    def disagreement(self) -> bool:
        """True when sources answered with different addresses and none won."""
        return self.address is None and len({r.address for r in self.reports if r.ok}) > 1

    def describe(self) -> str:
        """``"https://a said 203.0.113.7, dns:opendns failed (…)"`` for logs and ``ddnsd ip``."""
        parts = []
        for r in self.reports:
            parts.append(f"{r.source} said {r.address}" if r.ok else f"{r.source}: {r.error}")
        return "; ".join(parts)


def _decided(votes: Counter[str], pending: int, agree: int) -> bool:
    ranked = votes.most_common(2)
    if not ranked:
        return False
    lead = ranked[0][1]
    second = ranked[1][1] if len(ranked) > 1 else 0
    return lead >= agree and lead > second + pending


def _run(detector: Detector, family: Family) -> tuple[str | None, str | None, float]:
    started = time.monotonic()
    try:
        address = detector.detect(family)
    except SourceFailed as exc:
        return None, exc.reason, time.monotonic() - started
    except Exception as exc:  # a detector bug must not take the round down
        return None, f"{type(exc).__name__}: {exc}", time.monotonic() - started
    return address, None, time.monotonic() - started


def detect_agreed(
    detectors: Sequence[Detector],
    family: Family | int,
    agree: int = 1,
    timeout: float = 10.0,
    *,
    wait_all: bool = False,
) -> Agreement:
    """Ask ``detectors`` concurrently for ``family``; see the module docstring.

    Raises ValueError when ``agree`` is below 1 or above ``len(detectors)`` (a
    configuration that can never agree).
    """
    fam = Family(family)
    if not detectors:
        raise ValueError(f"no {fam.label} address sources are configured")
    if not 1 <= agree <= len(detectors):
        raise ValueError(
            f"agree = {agree} cannot be met by {len(detectors)} {fam.label} source(s); "
            f"use a value from 1 to {len(detectors)}"
        )
    started = time.monotonic()
    results: dict[int, SourceReport] = {}
    votes: Counter[str] = Counter()
    early = False
    pool = cf.ThreadPoolExecutor(max_workers=len(detectors), thread_name_prefix="ddnsd-detect")
    try:
        futures = {pool.submit(_run, d, fam): i for i, d in enumerate(detectors)}
        try:
            for fut in cf.as_completed(futures, timeout=timeout):
                i = futures[fut]
                address, error, seconds = fut.result()
                results[i] = SourceReport(detectors[i].source, address, error, seconds)
                if address is not None:
                    votes[address] += 1
                pending = len(detectors) - len(results)
                if not wait_all and pending and _decided(votes, pending, agree):
                    early = True
                    break
        except cf.TimeoutError:
            pass
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    elapsed = time.monotonic() - started
    reports: list[SourceReport] = []
    for i, d in enumerate(detectors):
        if i in results:
            reports.append(results[i])
        elif early:
            reports.append(SourceReport(d.source, None, "not waited for (agreement reached)", 0.0))
        else:
            reports.append(SourceReport(d.source, None, f"no answer within {timeout:g} s", elapsed))
    return _conclude(fam, reports, votes, agree)


def _conclude(
    family: Family, reports: list[SourceReport], votes: Counter[str], agree: int
) -> Agreement:
    ranked = votes.most_common(2)
    accepted = (
        ranked[0][0]
        if ranked and ranked[0][1] >= agree and (len(ranked) == 1 or ranked[0][1] > ranked[1][1])
        else None
    )
    # a failed source is a warning when it cost the round its address, else worth a note
    level = logging.INFO if accepted is not None else logging.WARNING
    for r in reports:
        if r.error is not None and not r.error.startswith("not waited"):
            log.log(level, "address source %r failed for %s: %s", r.source, family.label, r.error)
    if accepted is not None:
        log.debug("%s %s agreed by %d source(s)", family.label, accepted, votes[accepted])
        return Agreement(family, accepted, reports, agree)
    answered = [r for r in reports if r.ok]
    if len(votes) > 1:
        said = ", ".join(f"{r.source} said {r.address}" for r in answered)
        reason = (
            f"{family.label} sources disagree ({said}); no address was reported by at least "
            f"{agree} of them and more often than any other, so DNS stays unchanged"
        )
    else:
        reason = (
            f"only {len(answered)} of {len(reports)} {family.label} source(s) gave an address; "
            f"need {agree} to agree, so DNS stays unchanged"
        )
    log.warning("%s", reason)
    return Agreement(family, None, reports, agree, reason)
