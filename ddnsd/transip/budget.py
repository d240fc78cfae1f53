"""The request budget of one TransIP login + API URL, shared by every ddnsd process here.

TransIP allows ``limit`` requests (1,000) per user in a sliding 15-minute window and answers
429 past it; an account that keeps going after a 429 risks being blocked, exactly when an
address has changed or a certificate is due. So the transport asks :meth:`Budget.take`
before every request (``/auth`` included) and feeds :meth:`Budget.answered` every answer.

What the budget knows lives in ``transip-budget-<hash>.json`` in the state directory
(``Ledger``): the send time of every request any ddnsd process made in the window, the
``X-Rate-Limit-*`` of the newest answer, and whether a 429 opened the circuit. Every change
is a read-modify-write under the file's lock (``statedir.StateFile``); a missing file is
started empty, an unusable one (:class:`BudgetFile` says what is usable: no request sent in
the future, a 429 silence at most one window ahead) is set aside and started empty, an
unwritable state directory leaves the budget in this process only, never fatal. Without a
state directory the budget is per process.

The arithmetic is pure, in ``ledger.py`` (table-tested with an injected clock): requests
in use from our own count and the last answer's headers; "acme" may use the whole limit,
"ddns" all but the ACME reserve (default 10 %), so DDNS at scale never starves a
certificate renewal; a 429 opens the circuit until ``X-Rate-Limit-Reset``: nothing of any
kind is sent, by any process, until then (logged once per process per opening).

A refused request raises :class:`~ddnsd.errors.ApiDeferred` carrying ``until``; nothing
is sent. The transport names the kind of every request it asks for (the client's kind,
also for the ``/auth`` a call may need).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated

import pydantic

from ddnsd import readback, statedir
from ddnsd.errors import ApiDeferred
from ddnsd.statedir import StateFile
from ddnsd.transip.ledger import (
    ACME,
    DDNS,
    MARGIN,
    WINDOW,
    LastAnswer,
    Ledger,
    admit,
    free_at,
    prune,
    record_answer,
    reserve_of,
    to_json,
    used,
)

log = logging.getLogger(__name__)

__all__ = ["ACME", "DDNS", "Budget"]


def _within_a_window(value: float, info: pydantic.ValidationInfo) -> float:
    window = float(readback.context_of(info).get("window", WINDOW))
    return readback.when(value, info, ahead=window + MARGIN)


Ahead = Annotated[readback.Number, pydantic.AfterValidator(_within_a_window)]


class BudgetFile(pydantic.BaseModel):
    """``transip-budget-<hash>.json`` as it may be read back: every time in it at most one
    window ahead (a wall clock stepped back keeps the requests it counted; TransIP's reset
    and a 429's silence are ahead by nature)."""

    version: readback.Int = 1
    login: readback.Text
    api_url: readback.Text
    limit: Annotated[readback.Int, pydantic.Field(ge=1, le=1_000_000)]
    sent: list[Ahead]
    seen: tuple[Annotated[readback.Int, pydantic.Field(ge=0, le=1_000_000)], Ahead, Ahead] | None
    open_until: Ahead | None

    def ledger(self) -> Ledger:
        seen = None if self.seen is None else LastAnswer(*self.seen)
        return Ledger(self.limit, sorted(self.sent), seen, self.open_until)


def _clock_text(at: float, now: float) -> str:
    return f"{time.strftime('%H:%M:%S', time.localtime(at))} (in {max(at - now, 0):.0f} s)"


class Budget:
    """The shared budget of ``login`` at ``api_url``; ``state`` None: this process only.

    ``on_deferred(kind, until)`` hears each time the budget makes work wait: a refused
    request, or work put off after :meth:`until` (metrics). ``clock`` is the
    wall clock (TransIP's reset header is Unix time).
    """

    def __init__(
        self,
        state: statedir.StateDir | None,
        *,
        login: str,
        api_url: str,
        window: float = WINDOW,
        acme_reserve: float = 0.1,
        clock: Callable[[], float] = time.time,
        on_deferred: Callable[[str, float], None] | None = None,
    ) -> None:
        self.login = login
        self.api_url = api_url
        self.window = window
        self.acme_reserve = acme_reserve
        self.on_deferred = on_deferred
        self._clock = clock
        self._lock = threading.Lock()
        self._memory = Ledger()  # without a usable state directory
        self._told: set[tuple[str, float]] = set()  # openings / spent budgets already logged
        self._told_lock = threading.Lock()
        self.file: StateFile | None = None
        if state is not None:
            digest = hashlib.sha256(f"{login}\n{api_url}".encode()).hexdigest()[:32]
            self.file = state.shared(statedir.StateDir.BUDGET, digest)

    def __repr__(self) -> str:
        return f"Budget(login={self.login!r}, api_url={self.api_url!r})"

    # -- what the transport calls

    def take(self, kind: str) -> float:
        """Count one request of ``kind`` about to be sent; its send time. Raises
        :class:`ApiDeferred` (and counts nothing) when it must wait."""
        with self._ledger(write=True) as (ledger, now):
            until = admit(ledger, now, kind, window=self.window, reserve=self.acme_reserve)
            if until is None:
                ledger.sent.append(now)
                return now
            error = self._deferred(ledger, now, kind, until)
        if self.on_deferred is not None:
            self.on_deferred(kind, until)
        raise error

    def answered(
        self, sent_at: float, status: int, headers: Mapping[str, str], *, counted: bool = True
    ) -> None:
        """Feed an answer. ``counted`` False: its headers describe no login's window (an
        answer to ``/auth`` or a 401 comes before TransIP knows the login); only the limit
        is taken from it."""
        with self._ledger(write=True) as (ledger, now):
            opened = record_answer(
                ledger, sent_at, status, headers, now, counted=counted, window=self.window
            )
        if opened is not None and self._first_time("429", opened):
            log.warning(
                "TransIP answered 429 (rate limit) for login '%s': no ddnsd process sends "
                "to it until %s",
                self.login,
                _clock_text(opened, now),
            )

    # -- what callers ask

    def until(self, kind: str, count: int = 1) -> float | None:
        """None when ``count`` requests of ``kind`` fit now; else when they may (the caller
        puts its work off: ``on_deferred`` hears of it)."""
        with self._ledger(write=False) as (ledger, now):
            until = admit(
                ledger, now, kind, window=self.window, reserve=self.acme_reserve, count=count
            )
        if until is not None and self.on_deferred is not None:
            self.on_deferred(kind, until)
        return until

    def remaining(self) -> int:
        """Requests left in the window (for any kind), as far as the budget knows."""
        limit, in_use, _ = self.window_state()
        return max(limit - in_use, 0)

    def window_state(self) -> tuple[int, int, float | None]:
        """(limit, requests in the window, when the oldest of them leaves it; None when the
        window is empty) for this login, as every ddnsd process on the machine counts it."""
        with self._ledger(write=False) as (ledger, now):
            in_use = used(ledger, now, self.window)
            leaves = free_at(ledger, now, self.window, in_use) if in_use else None
            return ledger.limit, in_use, leaves

    # -- the file

    @contextlib.contextmanager
    def _ledger(self, *, write: bool) -> Iterator[tuple[Ledger, float]]:
        with self._lock, self._file_lock(write) as shared:
            now = self._clock()
            ledger = self._read() if shared else self._memory
            yield ledger, now
            if write:
                prune(ledger, now, self.window)
                if not shared or not self._write(ledger):
                    self._memory = ledger

    @contextlib.contextmanager
    def _file_lock(self, write: bool) -> Iterator[bool]:
        """Hold the budget's flock; yields False when there is no usable file."""
        with contextlib.ExitStack() as stack:
            usable = self.file is not None
            if self.file is not None:
                try:
                    stack.enter_context(self.file.locked(exclusive=write))
                except OSError as exc:
                    self._warn_once("file", f"cannot use {self.file.path.parent} ({exc.strerror})")
                    usable = False
            yield usable

    def _read(self) -> Ledger:
        assert self.file is not None
        advice = "the budget starts afresh from TransIP's next answer; delete the file"
        try:
            judged = {"window": self.window, "now": self._clock()}
            data = self.file.read(BudgetFile, advice=advice, context=judged)
        except OSError as exc:
            self._warn_once("read", f"cannot read {self.file.path} ({exc.strerror})")
            return Ledger()
        if data is None:
            return Ledger()
        if (data.login, data.api_url) != (self.login, self.api_url):
            readback.set_aside(self.file.path, "it belongs to another login or API", advice)
            return Ledger()
        return data.ledger()

    def _write(self, ledger: Ledger) -> bool:
        assert self.file is not None
        data = {"version": 1, "login": self.login, "api_url": self.api_url, **to_json(ledger)}
        try:
            self.file.write(data)
            return True
        except OSError as exc:
            self._warn_once("write", f"cannot write {self.file.path} ({exc.strerror})")
            return False

    # -- messages

    def _deferred(self, ledger: Ledger, now: float, kind: str, until: float) -> ApiDeferred:
        when = _clock_text(until, now)
        if ledger.open_until is not None and now < ledger.open_until:
            why = (
                f"TransIP answered 429 (rate limit) for login '{self.login}' and every ddnsd "
                "process keeps silent until then"
            )
        else:
            kept = reserve_of(ledger.limit, self.acme_reserve) if kind != ACME else 0
            spent = f"{used(ledger, now, self.window)} of {ledger.limit}"
            spent += f" in {self.window / 60:g} minutes" + (
                f", {kept} kept for ACME" if kept else ""
            )
            why = f"the request budget of login '{self.login}' is spent ({spent})"
            if self._first_time(kind, until):
                log.info("TransIP %s requests wait until %s: %s", kind, when, why)
        return ApiDeferred(
            until,
            kind,
            why,
            text=f"no request sent to TransIP for {kind} work until {when}: {why}",
        )

    def _first_time(self, what: str, at: float) -> bool:
        key = (what, float(round(at)))
        with self._told_lock:
            if key in self._told:
                return False
            self._told.add(key)
            return True

    def _warn_once(self, what: str, text: str) -> None:
        if self._first_time(what, 0):
            log.warning(
                "the shared TransIP request budget: %s; counting in this process only", text
            )
