"""The status board: the live state behind ``GET /``, ``/api/status`` and ``ddnsd status``.

:class:`StatusBoard` holds what the last rounds found — per record its value and whether
it is in sync, per address family the agreed address and each source's answer, the
round count of failures, the TransIP rate-limit window — and turns each change of it
into :class:`~ddnsd.observe.events.Event` s (the reporter logs them). It is saved to
``status.json`` in the state dir after each round, so a restarted daemon or the next
``ddnsd once`` compares with what was, and ``ddnsd status`` can answer without a daemon.

:func:`snapshot` joins that live state with the history (the newest 100 address changes
of the last 30 days and how many more there were, recent challenges and failures, the
newest events) into the document ``/api/status`` serves; docs/status.md lists its
fields. Every list is bounded, whatever the history holds. No clock of its own, no secret.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pydantic

from ddnsd import readback, statedir, statefiles
from ddnsd.observe.events import CHALLENGE_KINDS, FAILURE_KINDS, Event, event
from ddnsd.observe.health import format_age

if TYPE_CHECKING:
    from ddnsd.detect.agree import Agreement
    from ddnsd.reconcile.applier import RecordResult
    from ddnsd.reconcile.engine import RoundResult

log = logging.getLogger(__name__)

TIMELINE_SECONDS = 30 * 86400
TIMELINE_CHANGES = 100  # address changes listed at most (the newest of the 30 days)
RECENT = 20  # challenges and failures listed
HISTORY = 50  # newest events listed


@dataclass
class RecordState:
    record: str  # "home.example.test/A"
    name: str
    type: str
    value: str | None = None
    in_sync: bool = False
    outcome: str | None = None
    reason: str = ""  # why it is not in sync; "" when it is
    last_change: float | None = None
    last_verified: float | None = None
    failing_since: float | None = None


@dataclass
class SourceState:
    source: str
    address: str | None
    error: str | None
    seconds: float


@dataclass
class FamilyState:
    family: str  # "ipv4" / "ipv6"
    address: str | None = None
    agree: int = 1
    reason: str = ""
    sources: list[SourceState] = field(default_factory=list)


Time = readback.Time
Text = readback.Text
Count = Annotated[readback.Int, pydantic.Field(ge=0, le=10**9)]


class _StoredRecord(pydantic.BaseModel):
    record: Text
    name: Text
    type: Text
    value: Text | None = None
    in_sync: readback.Flag = False
    outcome: Text | None = None
    reason: Text = ""
    last_change: Time | None = None
    last_verified: Time | None = None
    failing_since: Time | None = None


class _StoredSource(pydantic.BaseModel):
    source: Text
    address: Text | None
    error: Text | None
    seconds: Annotated[readback.Number, pydantic.Field(ge=0, le=86400)]


class _StoredFamily(pydantic.BaseModel):
    family: Text
    address: Text | None = None
    agree: Annotated[readback.Int, pydantic.Field(ge=1, le=1000)] = 1
    reason: Text = ""
    sources: list[_StoredSource] = []


class _StoredRound(pydantic.BaseModel):
    at: Time | None = None
    ok: readback.Flag | None = None
    failed_rounds: Count = 0
    error_since: Time | None = None


class _StoredApi(pydantic.BaseModel):
    limit: Count | None = None
    remaining: Count | None = None
    reset: Time | None = None


class StatusFile(pydantic.BaseModel):
    """``status.json`` as it may be read back."""

    last_round: _StoredRound = _StoredRound()
    last_success: Time | None = None
    records: list[_StoredRecord] = []
    families: list[_StoredFamily] = []
    api: _StoredApi = _StoredApi()


class StatusBoard:
    """Live state fed by the reporter; every ``update_*`` returns the events it implies."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.records: dict[str, RecordState] = {}
        self.families: dict[str, FamilyState] = {}
        self.last_round: float | None = None
        self.last_round_ok: bool | None = None
        self.last_success: float | None = None
        self.failed_rounds = 0
        self.round_error_since: float | None = None
        self.api: dict[str, float | None] = {"limit": None, "remaining": None, "reset": None}

    # -- persistence -----------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> StatusBoard:
        """The board saved at ``path``; an empty one when there is none or it is unreadable."""
        board = cls(path)
        advice = "the status starts afresh with the next round; delete the file"
        try:
            data = readback.read_back(path, StatusFile, advice=advice)
        except OSError as exc:
            log.warning("status: cannot read %s (%s)", path, exc.strerror)
            return board
        if data is None:
            return board
        for r in data.records:
            board.records[r.record] = RecordState(**r.model_dump())
        for f in data.families:
            fam = FamilyState(**f.model_dump())
            fam.sources = [SourceState(**s.model_dump()) for s in f.sources]
            board.families[fam.family] = fam
        board.last_round = data.last_round.at
        board.last_round_ok = data.last_round.ok
        board.failed_rounds = data.last_round.failed_rounds
        board.round_error_since = data.last_round.error_since
        board.last_success = data.last_success
        board.api.update(data.api.model_dump())
        return board

    def set_aside(self) -> list[str]:
        """The files of its state dir set aside as unusable (readback.set_aside)."""
        return [] if self.path is None else statedir.StateDir(self.path.parent).set_aside_files()

    def save(self) -> None:
        """Write ``status.json`` atomically (a failure is logged, never raised)."""
        if self.path is None:
            return
        try:
            statefiles.make_dir(self.path.parent)
            statefiles.write_atomic(self.path, json.dumps(self.live(), ensure_ascii=False))
        except OSError as exc:
            log.warning("status: cannot write %s (%s)", self.path, exc.strerror or exc)

    def live(self) -> dict[str, Any]:
        """The live part of the status document (see docs/status.md)."""
        with self._lock:
            used = None
            if self.api["limit"] is not None and self.api["remaining"] is not None:
                used = max(0, int(self.api["limit"]) - int(self.api["remaining"]))
            return {
                "last_round": {
                    "at": self.last_round,
                    "ok": self.last_round_ok,
                    "failed_rounds": self.failed_rounds,
                    "error_since": self.round_error_since,
                },
                "last_success": self.last_success,
                "records": [asdict(r) for r in self.records.values()],
                "families": [asdict(f) for f in self.families.values()],
                "api": {**self.api, "used": used},
            }

    # -- updates ---------------------------------------------------------------------

    def update_families(self, when: float, agreements: Mapping[str, Agreement]) -> list[Event]:
        """Note each family's agreement; an ``address`` event where the agreed one changed."""
        out: list[Event] = []
        with self._lock:
            previous, self.families = self.families, {}  # families no longer needed go
            for agreement in agreements.values():
                key = f"ipv{agreement.family.value}"
                old = previous.get(key)
                new = FamilyState(
                    key,
                    agreement.address,
                    agreement.agree,
                    agreement.reason,
                    [
                        SourceState(r.source, r.address, r.error, round(r.seconds, 4))
                        for r in agreement.reports
                    ],
                )
                if agreement.address is None and old is not None:
                    new.address = old.address  # unknown this round: the last agreed one stays
                self.families[key] = new
                before = old.address if old is not None else None
                if agreement.address is not None and agreement.address != before:
                    sources = [
                        r.source for r in agreement.reports if r.address == agreement.address
                    ]
                    out.append(
                        event(
                            "address",
                            when,
                            family=key,
                            old=before,
                            new=agreement.address,
                            sources=sources,
                        )
                    )
        return out

    def update_records(self, when: float, result: RoundResult) -> list[Event]:
        """Note each record's result: ``written``, ``failed``, ``conflict``, ``recovered``."""
        out: list[Event] = []
        when = round(when, 3)
        with self._lock:
            previous, self.records = self.records, {}  # records no longer configured go
            for key, rec in result.records.items():
                self.records[key] = record_update(previous.get(key), rec, when, out)
        return out

    def update_round(self, when: float, ok: bool, error: str = "") -> tuple[int, list[Event]]:
        """Note a finished round; (failed rounds in a row before it, the events it implies).

        ``error``: why the round failed as a whole (no record result at all).
        """
        out: list[Event] = []
        when = round(when, 3)
        with self._lock:
            before = self.failed_rounds
            self.last_round, self.last_round_ok = when, ok
            self.failed_rounds = 0 if ok else before + 1
            if ok:
                self.last_success = when
            if error and self.round_error_since is None:
                self.round_error_since = when
                out.append(event("failed", when, record=None, message=error))
            elif not error and self.round_error_since is not None and ok:
                out.append(
                    event("recovered", when, record=None, failed_since=self.round_error_since)
                )
                self.round_error_since = None
        return before, out

    def forget_records(self) -> None:
        """No records are configured (any more): nothing to show for them."""
        with self._lock:
            self.records, self.families = {}, {}

    def set_api(self, limit: int, remaining: int, reset: float | None) -> None:
        """The window as the shared request budget counts it (``reset`` None: empty)."""
        with self._lock:
            self.api.update(limit=limit, remaining=remaining, reset=reset)

    def update_api(self, limit: int | None, remaining: int | None, reset: float | None) -> None:
        """The window from an answer's headers (no budget): what they say, kept until the
        next answer says more."""
        with self._lock:
            for k, v in (("limit", limit), ("remaining", remaining), ("reset", reset)):
                if v is not None:
                    self.api[k] = v


def record_update(
    old: RecordState | None, rec: RecordResult, when: float, out: list[Event]
) -> RecordState:
    """A record's new state after ``rec``; the events the change implies go to ``out``."""
    spec, outcome = rec.spec, rec.outcome.value
    state = RecordState(spec.key, spec.fqdn, spec.type) if old is None else replace(old)
    state.in_sync = rec.outcome.ok
    state.reason = "" if rec.outcome.ok else rec.message
    if rec.content is not None:
        state.value = rec.content
    if rec.via in ("api", "dns") and outcome != "failed":
        state.last_verified = when
    if outcome == "updated" and rec.changes:
        state.last_change = when
        method = "+".join(sorted({c.method for c in rec.changes}))
        before = next((c.old.content for c in rec.changes if c.old is not None), None)
        if before is None and old is not None and old.value != rec.content:
            before = old.value
        out.append(
            event("written", when, record=spec.key, method=method, old=before, new=rec.content)
        )
    was_bad = old is not None and old.outcome in ("failed", "conflict")
    if outcome == "deferred":  # put off by the request budget: no recovery, no new failure
        if not was_bad:
            state.outcome = outcome
        return state
    if outcome in ("failed", "conflict"):
        if old is None or old.outcome != outcome:
            out.append(event(outcome, when, record=spec.key, message=rec.message))
        if not was_bad:
            state.failing_since = when
    elif was_bad:
        assert old is not None
        out.append(event("recovered", when, record=spec.key, failed_since=old.failing_since))
        state.failing_since = None
    state.outcome = outcome
    return state


# -- the document ------------------------------------------------------------------------


def fmt_time(ts: float | None) -> str:
    """``"2026-11-01 12:00 UTC"`` (``"never"`` for None)."""
    return "never" if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def ago(now: float, ts: float | None) -> str:
    """``"12 min ago"`` (``"never"`` for None)."""
    return "never" if ts is None else f"{format_age(now - ts)} ago"


def in_sync(live: Mapping[str, Any]) -> bool:
    """The last round was ok and every record holds the agreed address."""
    return bool(live["last_round"]["ok"]) and all(r["in_sync"] for r in live["records"])


def summary(live: Mapping[str, Any], now: float) -> str:
    """One line: "in sync: 2/2 records, last round 12 s ago" (or what is wrong)."""
    last = live["last_round"]
    if last["at"] is None:
        return "no round yet"
    records = live["records"]
    parts = []
    if records:
        good = sum(1 for r in records if r["in_sync"])
        parts.append(f"in sync: {good}/{len(records)} records")
    parts.append(
        f"last round {format_age(now - last['at'])} ago" + ("" if last["ok"] else " failed")
    )
    if not last["ok"] and last["failed_rounds"] > 1:
        parts.append(f"{last['failed_rounds']} failed rounds in a row")
    return ", ".join(parts)


@dataclass
class Recent:
    """What the status document takes from the history, and no more: bounded whatever the
    history holds (a full one is some 26 MiB as events; this is a few hundred of them).

    ``address``: the newest ``TIMELINE_CHANGES`` address changes; ``address_times``: when
    each address change of the 30 days before the newest event happened (the count of
    ``timeline_more``); the newest ``RECENT`` challenge and failure events and the newest
    ``HISTORY`` events of any kind, each oldest first.
    """

    address: deque[Event] = field(default_factory=lambda: deque(maxlen=TIMELINE_CHANGES))
    address_times: deque[float] = field(default_factory=deque)
    challenges: deque[Event] = field(default_factory=lambda: deque(maxlen=RECENT))
    failures: deque[Event] = field(default_factory=lambda: deque(maxlen=RECENT))
    newest: deque[Event] = field(default_factory=lambda: deque(maxlen=HISTORY))

    @classmethod
    def of(cls, events: Iterable[Event]) -> Recent:
        """The recent part of ``events`` (oldest first), read one by one."""
        recent = cls()
        for e in events:
            recent.newest.append(e)
            if e.kind == "address":
                recent.address.append(e)
                recent.address_times.append(e.at)
                while recent.address_times[0] < e.at - TIMELINE_SECONDS:
                    recent.address_times.popleft()
            elif e.kind in CHALLENGE_KINDS:
                recent.challenges.append(e)
            if e.kind in FAILURE_KINDS:
                recent.failures.append(e)
        return recent


def snapshot(
    live: Mapping[str, Any],
    events: Iterable[Event] | Recent,
    now: float,
    *,
    version: str,
    daemon: Mapping[str, Any] | None,
    set_aside: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``/api/status`` document: ``live`` (:meth:`StatusBoard.live`), the history (its
    events oldest first, or their :class:`Recent` part) and the state files ``set_aside``
    (:meth:`StatusBoard.set_aside`)."""
    recent = events if isinstance(events, Recent) else Recent.of(events)
    since = now - TIMELINE_SECONDS
    listed = [e for e in recent.address if e.at >= since]
    timeline = [
        {"at": e.at, "family": e.get("family"), "old": e.get("old"), "new": e.get("new")}
        for e in listed
    ]
    return {
        "version": version,
        "generated_at": round(now, 3),
        "daemon": dict(daemon) if daemon is not None else None,
        "in_sync": in_sync(live),
        "summary": summary(live, now),
        **live,
        "timeline": timeline,
        "timeline_more": sum(1 for t in recent.address_times if t >= since) - len(listed),
        "challenges": [e.to_json() for e in reversed(recent.challenges)],
        "failures": [e.to_json() for e in reversed(recent.failures)],
        "history": [e.to_json() for e in reversed(recent.newest)],
        "set_aside": list(set_aside),
    }
