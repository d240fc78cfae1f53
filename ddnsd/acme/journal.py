"""The ACME journal: every TXT entry ddnsd added and has not removed yet.

``state_dir/acme-journal.json`` is written before each POST and after each cleanup,
atomically (temporary file + fsync + rename + directory fsync), under an exclusive
``flock`` on ``state_dir/acme.lock`` held across each read-modify-write, so hook
processes and the daemon can share one state directory.

A separate process-level "cleanup owner" lock (``state_dir/acme-cleanup.lock``) makes
one process at a time responsible for removing stale entries: each ddnsd process sweeps
entries older than ``max_age`` on start while holding it; a process that finds it taken
leaves the sweep to the holder. A process may also keep it (``claim_cleanup_owner``).

A value leaves the journal only when it is gone at TransIP *and* no POST for it can still
land (inflight.py has the rule): an entry whose value was removed while a POST may still
be applied stays as *pending removal*, and every sweep deletes the value again wherever it
has landed, until no POST of it can land any more. Entries carry ``attempt``/``writer``/
``window`` for that rule; journals written before those existed (version 1) are read with
``attempt`` = ``created`` and the default window.

The journal is read back like every state file (:func:`ddnsd.readback.read_back`,
:class:`JournalFile`): it may only name TXT values written for an ``_acme-challenge`` name
(at that name, or where its CNAME points), so no entry, however it got there, makes
ddnsd delete anything else. An unusable journal is set aside
as ``acme-journal.json.corrupt-<time>`` and the journal starts empty; the warning (and
the status page's failures) say the TXT values it listed may need removing by hand.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any

import pydantic

from ddnsd import readback, statefiles
from ddnsd.acme.challenge import ACME_LABEL
from ddnsd.acme.inflight import WRITER_ID, WriteLocks, landing_window, may_still_land
from ddnsd.acme.owner import CleanupOwner
from ddnsd.errors import DdnsdError
from ddnsd.model import DnsEntry
from ddnsd.statedir import StateDir

log = logging.getLogger(__name__)

DEFAULT_WINDOW = landing_window(10.0)  # the client's default timeout

#: ``writer_active(id)``: is the POST call holding lock ``id`` still running?
WriterActive = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One TXT entry ddnsd added: where (``domain`` + DNS entry), for which ``fqdn``, and when.

    ``attempt``: wall-clock time of the last POST of it whose outcome is unknown (None:
    every POST got its answer); ``writer``: the lock id of the call still sending it (None
    once that call is over); ``window``: seconds after ``attempt`` such a POST may still be
    applied; ``pending_removal``: removed (or found gone) while a POST could still land.
    """

    domain: str
    name: str
    expire: int
    type: str
    content: str
    fqdn: str
    created: float  # wall clock (time.time())
    attempt: float | None = None
    writer: str | None = None
    window: float = DEFAULT_WINDOW
    pending_removal: bool = False

    @property
    def entry(self) -> DnsEntry:
        return DnsEntry(self.name, self.expire, self.type, self.content)

    def same_record(self, domain: str, name: str, type_: str, content: str) -> bool:
        """True for the same value at the same place (``expire`` may differ)."""
        return (self.domain, self.name, self.type, self.content) == (domain, name, type_, content)

    def may_still_land(self, now: float, writer_active: WriterActive) -> bool:
        """A POST of this value may still be applied at TransIP (inflight.may_still_land)."""
        in_flight = self.writer is not None and writer_active(self.writer)
        return may_still_land(self.attempt, self.window, now, in_flight=in_flight)

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "name": self.name,
            "expire": self.expire,
            "type": self.type,
            "content": self.content,
            "fqdn": self.fqdn,
            "created": self.created,
            "attempt": self.attempt,
            "writer": self.writer,
            "window": self.window,
            "pending_removal": self.pending_removal,
        }


def _challenge_name(fqdn: str) -> str:
    if not fqdn.lower().startswith(ACME_LABEL + "."):
        raise ValueError(f"the journal holds TXT values of {ACME_LABEL} names only, not {fqdn!r}")
    return fqdn


Short = Annotated[readback.Text, pydantic.Field(min_length=1, max_length=1024)]


class StoredEntry(pydantic.BaseModel):
    """One entry of ``acme-journal.json`` as it may be read back."""

    domain: Short
    name: Short  # the challenge's name, or where its CNAME points (acme.cname_follow)
    expire: Annotated[readback.Int, pydantic.Field(ge=1, le=2**31 - 1)]
    type: Annotated[readback.Text, pydantic.Field(pattern="^TXT$")]
    content: Short
    fqdn: Annotated[Short, pydantic.AfterValidator(_challenge_name)]
    created: readback.Time
    attempt: readback.Time | None = None  # absent (version 1): in doubt since ``created``
    writer: Annotated[readback.Text, pydantic.Field(pattern=WRITER_ID)] | None = None
    window: Annotated[readback.Number, pydantic.Field(ge=0, le=readback.AHEAD)] = DEFAULT_WINDOW
    pending_removal: readback.Flag = False

    def entry(self) -> JournalEntry:
        attempt = self.attempt if "attempt" in self.model_fields_set else self.created
        return JournalEntry(**{**self.model_dump(), "attempt": attempt})


class JournalFile(pydantic.BaseModel):
    """``acme-journal.json`` as it may be read back."""

    version: readback.Int = 2
    entries: list[StoredEntry]


#: what the set-aside warning tells the operator
SET_ASIDE_ADVICE = (
    "the TXT values it listed are no longer cleaned up by ddnsd: look at it, remove any "
    "_acme-challenge TXT value left in the zone by hand, then delete it"
)


class Journal:
    """The journal in ``state``; ``clock`` gives wall-clock seconds (tests pass their own)."""

    def __init__(self, state: StateDir, *, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.path = state.file(StateDir.JOURNAL)
        self.lock_path = state.file(StateDir.JOURNAL_LOCK)
        self.owner_lock_path = state.file(StateDir.CLEANUP_LOCK)
        self._clock = clock
        self._thread_lock = threading.Lock()
        self.locks = WriteLocks(state)
        self.owner = CleanupOwner(self.owner_lock_path, state.make)

    # -- reading and writing -------------------------------------------------------

    def _read(self) -> list[JournalEntry]:
        try:
            data = readback.read_back(
                self.path, JournalFile, advice=SET_ASIDE_ADVICE, context={"now": self._clock()}
            )
        except OSError as exc:
            raise DdnsdError(f"cannot read the ACME journal {self.path} ({exc.strerror})") from exc
        return [] if data is None else [e.entry() for e in data.entries]

    def _write(self, entries: list[JournalEntry]) -> None:
        data = {"version": 2, "entries": [e.to_json() for e in entries]}
        try:
            statefiles.write_atomic(self.path, json.dumps(data, indent=1) + "\n", durable=True)
        except OSError as exc:
            raise DdnsdError(
                f"cannot write the ACME journal {self.path} ({exc.strerror}); "
                "check that state.dir is writable and not full"
            ) from exc

    @contextlib.contextmanager
    def _locked(self, *, shared: bool = False) -> Iterator[None]:
        self.state.make()
        with self._thread_lock, statefiles.held(self.lock_path, shared=shared):
            yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[list[JournalEntry]]:
        """Read-modify-write under the lock: change the yielded list; it is written on exit."""
        with self._locked():
            entries = self._read()
            before = list(entries)
            yield entries
            if entries != before:
                self._write(entries)

    # -- operations ----------------------------------------------------------------

    def entries(self) -> list[JournalEntry]:
        """Every entry, oldest first."""
        if not self.path.exists():
            return []
        with self._locked(shared=True):
            return self._read()

    def add(self, domain: str, entry: DnsEntry, fqdn: str) -> JournalEntry:
        """Record ``entry`` in ``domain`` (no POST in doubt); the same value is kept once."""
        return self._put(domain, entry, fqdn, None, DEFAULT_WINDOW)[0]

    def start_post(
        self, domain: str, entry: DnsEntry, fqdn: str, writer: str, window: float
    ) -> bool:
        """Record ``entry`` before the POST call holding lock ``writer`` sends it.

        True when an earlier POST of the same value was still in doubt (its entry is
        replaced; :meth:`settle` must then keep the new one in doubt too)."""
        return self._put(domain, entry, fqdn, writer, window)[1]

    def _put(
        self, domain: str, entry: DnsEntry, fqdn: str, writer: str | None, window: float
    ) -> tuple[JournalEntry, bool]:
        now = self._clock()
        record = JournalEntry(
            domain=domain,
            name=entry.name,
            expire=entry.expire,
            type=entry.type,
            content=entry.content,
            fqdn=fqdn,
            created=now,
            attempt=now if writer is not None else None,
            writer=writer,
            window=window,
        )
        with self.transaction() as entries:
            same = [e for e in entries if self._same(e, domain, entry)]
            entries[:] = [e for e in entries if not self._same(e, domain, entry)]
            entries.append(record)
        return record, any(e.attempt is not None or e.writer is not None for e in same)

    @staticmethod
    def _same(e: JournalEntry, domain: str, entry: DnsEntry) -> bool:
        return e.same_record(domain, entry.name, entry.type, entry.content)

    def settle(self, domain: str, entry: DnsEntry, writer: str, *, in_doubt: bool) -> None:
        """The POST call ``writer`` is over: ``in_doubt`` when a POST of it got no answer."""
        with self.transaction() as entries:
            for i, e in enumerate(entries):
                if self._same(e, domain, entry) and e.writer == writer:
                    attempt = self._clock() if in_doubt else None
                    entries[i] = replace(e, writer=None, attempt=attempt)

    def set_expire(self, domain: str, entry: DnsEntry, expire: int) -> None:
        """Change the recorded ``expire`` of ``entry`` (TransIP made us use the stored one)."""
        with self.transaction() as entries:
            for i, e in enumerate(entries):
                if self._same(e, domain, entry):
                    entries[i] = replace(e, expire=expire)

    def remove(self, domain: str, entry: DnsEntry) -> bool:
        """Forget ``entry`` (matched on name, type and content); False when it was not there."""
        with self.transaction() as entries:
            kept = [e for e in entries if not self._same(e, domain, entry)]
            found = len(kept) != len(entries)
            entries[:] = kept
        return found

    def finish_removal(self, domain: str, entry: DnsEntry) -> JournalEntry | None:
        """The value is gone at TransIP: forget it, unless a POST of it may still land.

        Returns the entry kept as pending removal, or None when it was forgotten."""
        with self.transaction() as entries:
            now = self._observe(entries)
            for i, e in enumerate(entries):
                if self._same(e, domain, entry):
                    if e.may_still_land(now, self.locks.active):
                        entries[i] = replace(e, pending_removal=True)
                        return entries[i]
                    del entries[i]
                    return None
        return None

    def sweepable(self, max_age: float) -> list[JournalEntry]:
        """Entries to remove now: those created more than ``max_age`` seconds ago whose POST
        call is over (a late POST of one keeps it pending after the removal), and every
        one pending removal (a late POST may have landed since; :meth:`finish_removal`
        keeps it pending while another may still land)."""
        with self.transaction() as entries:
            now = self._observe(entries)  # after this, a writer still set is a running call
            return [
                e
                for e in entries
                if e.pending_removal or (e.writer is None and e.created < now - max_age)
            ]

    def _observe(self, entries: list[JournalEntry]) -> float:
        """Mark POST calls whose process is gone as over (from now on); the time now."""
        now = self._clock()
        for i, e in enumerate(entries):
            if e.writer is not None and not self.locks.active(e.writer):
                log.debug("%s TXT %r: the POST call %s is over", e.fqdn, e.content, e.writer)
                entries[i] = replace(e, writer=None, attempt=now)
        return now

    # -- the cleanup owner (owner.py) ----------------------------------------------

    def claim_cleanup_owner(self) -> bool:
        """Become (or stay) the process that cleans up stale entries; False if another holds it."""
        return self.owner.claim()

    def cleanup_owner(self) -> contextlib.AbstractContextManager[bool]:
        """Hold the cleanup-owner lock for a sweep: yields False if another process has it."""
        return self.owner.held()

    def release_cleanup_owner(self) -> None:
        """Let another process become the cleanup owner."""
        self.owner.release()
