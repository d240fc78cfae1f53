"""The ACME journal: every TXT entry ddnsd added and has not removed yet.

``state_dir/acme-journal.json`` is written before each POST and after each cleanup,
atomically (temporary file + fsync + rename + directory fsync), under an exclusive
``flock`` on ``state_dir/acme.lock`` held across each read-modify-write, so hook
processes and the daemon can share one state directory.

A separate process-level "cleanup owner" lock (``state_dir/acme-cleanup.lock``) makes
one process at a time responsible for removing stale entries: each ddnsd process sweeps
entries older than ``max_age`` on start while holding it; a process that finds it taken
leaves the sweep to the holder. A process may also keep it (``claim_cleanup_owner``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddnsd import statefiles
from ddnsd.errors import DdnsdError
from ddnsd.model import DnsEntry

log = logging.getLogger("ddnsd.acme.journal")

JOURNAL_FILE = "acme-journal.json"
LOCK_FILE = "acme.lock"
OWNER_LOCK_FILE = "acme-cleanup.lock"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One TXT entry ddnsd added: where (``domain`` + DNS entry), for which ``fqdn``, and when."""

    domain: str
    name: str
    expire: int
    type: str
    content: str
    fqdn: str
    created: float  # wall clock (time.time())

    @property
    def entry(self) -> DnsEntry:
        return DnsEntry(self.name, self.expire, self.type, self.content)

    def same_record(self, domain: str, name: str, type_: str, content: str) -> bool:
        """True for the same value at the same place (``expire`` may differ)."""
        return (self.domain, self.name, self.type, self.content) == (domain, name, type_, content)

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "name": self.name,
            "expire": self.expire,
            "type": self.type,
            "content": self.content,
            "fqdn": self.fqdn,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JournalEntry:
        return cls(
            domain=str(data["domain"]),
            name=str(data["name"]),
            expire=int(data["expire"]),
            type=str(data["type"]),
            content=str(data["content"]),
            fqdn=str(data["fqdn"]),
            created=float(data["created"]),
        )


# Cleanup-owner locks held by this process, by lock file path: flock conflicts between
# two descriptors of one process too, so the process keeps one descriptor per file.
_owner_fds: dict[str, int] = {}
_owner_guard = threading.Lock()


class Journal:
    """The journal in ``state_dir``; ``clock`` gives wall-clock seconds (tests pass their own)."""

    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / JOURNAL_FILE
        self.lock_path = self.state_dir / LOCK_FILE
        self.owner_lock_path = self.state_dir / OWNER_LOCK_FILE
        self._clock = clock
        self._thread_lock = threading.Lock()

    # -- reading and writing -------------------------------------------------------

    def _ensure_dir(self) -> None:
        try:
            statefiles.make_dir(self.state_dir)
        except OSError as exc:
            raise DdnsdError(
                f"cannot create the state directory {self.state_dir} ({exc.strerror}); "
                "create it or set state.dir to a writable directory"
            ) from exc

    def _read(self) -> list[JournalEntry]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise DdnsdError(f"cannot read the ACME journal {self.path} ({exc.strerror})") from exc
        try:
            data = json.loads(text) if text.strip() else {"entries": []}
            return [JournalEntry.from_json(item) for item in data["entries"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise DdnsdError(
                f"the ACME journal {self.path} is unreadable ({exc}); fix or remove it "
                "(TXT entries it lists may then have to be removed by hand)"
            ) from exc

    def _write(self, entries: list[JournalEntry]) -> None:
        data = {"version": 1, "entries": [e.to_json() for e in entries]}
        try:
            statefiles.write_atomic(self.path, json.dumps(data, indent=1) + "\n", durable=True)
        except OSError as exc:
            raise DdnsdError(
                f"cannot write the ACME journal {self.path} ({exc.strerror}); "
                "check that state.dir is writable and not full"
            ) from exc

    @contextlib.contextmanager
    def _locked(self, kind: int) -> Iterator[None]:
        self._ensure_dir()
        with self._thread_lock:
            fd = statefiles.open_lock(self.lock_path)
            try:
                fcntl.flock(fd, kind)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    @contextlib.contextmanager
    def transaction(self) -> Iterator[list[JournalEntry]]:
        """Read-modify-write under the lock: change the yielded list; it is written on exit."""
        with self._locked(fcntl.LOCK_EX):
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
        with self._locked(fcntl.LOCK_SH):
            return self._read()

    def add(self, domain: str, entry: DnsEntry, fqdn: str) -> JournalEntry:
        """Record ``entry`` in ``domain``; the same value at one name is kept once."""
        record = JournalEntry(
            domain=domain,
            name=entry.name,
            expire=entry.expire,
            type=entry.type,
            content=entry.content,
            fqdn=fqdn,
            created=self._clock(),
        )
        with self.transaction() as entries:
            entries[:] = [
                e
                for e in entries
                if not e.same_record(domain, entry.name, entry.type, entry.content)
            ]
            entries.append(record)
        return record

    def set_expire(self, domain: str, entry: DnsEntry, expire: int) -> None:
        """Change the recorded ``expire`` of ``entry`` (TransIP made us use the stored one)."""
        with self.transaction() as entries:
            for i, e in enumerate(entries):
                if e.same_record(domain, entry.name, entry.type, entry.content):
                    entries[i] = JournalEntry(
                        e.domain, e.name, expire, e.type, e.content, e.fqdn, e.created
                    )

    def remove(self, domain: str, entry: DnsEntry) -> bool:
        """Forget ``entry`` (matched on name, type and content); False when it was not there."""
        with self.transaction() as entries:
            kept = [
                e
                for e in entries
                if not e.same_record(domain, entry.name, entry.type, entry.content)
            ]
            found = len(kept) != len(entries)
            entries[:] = kept
        return found

    def stale(self, max_age: float) -> list[JournalEntry]:
        """Entries created more than ``max_age`` seconds ago (wall clock)."""
        limit = self._clock() - max_age
        return [e for e in self.entries() if e.created < limit]

    # -- the cleanup owner ---------------------------------------------------------

    def claim_cleanup_owner(self) -> bool:
        """Become (or stay) the process that cleans up stale entries; False if another holds it.

        The lock lives until :meth:`release_cleanup_owner` or the end of the process.
        """
        self._ensure_dir()
        key = str(self.owner_lock_path.resolve())
        with _owner_guard:
            if key in _owner_fds:
                return True
            fd = statefiles.open_lock(self.owner_lock_path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return False
                raise DdnsdError(
                    f"cannot lock {self.owner_lock_path} ({exc.strerror}); "
                    "check that state.dir is writable"
                ) from exc
            _owner_fds[key] = fd
            return True

    @contextlib.contextmanager
    def cleanup_owner(self) -> Iterator[bool]:
        """Hold the cleanup-owner lock for a sweep: yields False if another process has it.

        Released afterwards unless this process held it already (claim_cleanup_owner).
        """
        held_before = str(self.owner_lock_path.resolve()) in _owner_fds
        owner = self.claim_cleanup_owner()
        try:
            yield owner
        finally:
            if owner and not held_before:
                self.release_cleanup_owner()

    def release_cleanup_owner(self) -> None:
        """Let another process become the cleanup owner."""
        key = str(self.owner_lock_path.resolve())
        with _owner_guard:
            fd = _owner_fds.pop(key, None)
            if fd is not None:
                os.close(fd)
