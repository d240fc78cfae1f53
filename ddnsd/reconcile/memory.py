"""The engine's memory of its records, kept in the state directory (``records.json``).

Shared by ``ddnsd run`` and every ``ddnsd once``: a cron run knows what the previous one
wrote and when the zone was last read, so it can trust the authoritative nameservers and
stay away from the API exactly like the daemon does.

Per record (``RecordSpec.key``): the content the API last wrote or showed, when, and the
expire of that one entry (``seen``, trusted for the propagation grace: within it a
change PATCHes the remembered entry directly, as the nameservers cannot show it yet),
the DNS values at a reported conflict (``conflicts``), and since when it waits for the
API (``waiting``, for the write order after a deferral). Per domain: the last API read
and when ddnsd first saw the domain (``verified`` / ``first_seen``, for the verification
schedule).

Times are wall-clock (they cross processes). The file (``statedir.StateFile``) is re-read
when it changed and written only when something changed, under its lock; another
configuration's records in the same file are kept. A missing file is started afresh, an
unusable one (:class:`RecordsFile`) is set aside and started afresh, an unwritable one
leaves the memory in this process: each costs at most some API reads, never a failure.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import pydantic

from ddnsd import readback, statedir

log = logging.getLogger(__name__)


class StoredRecord(pydantic.BaseModel):
    content: readback.Text | None = None
    at: readback.Time | None = None
    expire: Annotated[readback.Int, pydantic.Field(ge=1, le=2**31 - 1)] | None = None
    conflict: list[readback.Text] | None = None
    waiting: readback.Time | None = None

    @pydantic.model_validator(mode="after")
    def _seen_whole(self) -> StoredRecord:
        if (self.content is None) != (self.at is None):
            raise ValueError('"content" and "at" go together')
        return self


class StoredDomain(pydantic.BaseModel):
    verified: readback.Time | None = None
    first_seen: readback.Time | None = None


class RecordsFile(pydantic.BaseModel):
    """``records.json`` as it may be read back."""

    version: readback.Int = 1
    records: dict[str, StoredRecord] = {}
    domains: dict[str, StoredDomain] = {}


@dataclass(frozen=True, slots=True)
class SeenValue:
    content: str  # what the API wrote or listed
    at: float
    expire: int | None = None  # the one entry's expire (TransIP's TTL), when known


@dataclass(slots=True)
class Known:
    """What the memory holds (one ``Memory`` loads and saves one of these)."""

    seen: dict[str, SeenValue] = field(default_factory=dict)
    conflicts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    waiting: dict[str, float] = field(default_factory=dict)
    verified: dict[str, float] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)

    def to_json(self, keys: set[str], domains: set[str]) -> dict[str, Any]:
        records: dict[str, Any] = {}
        for k in sorted(keys):
            item: dict[str, Any] = {}
            if k in self.seen:
                seen = self.seen[k]
                item["content"], item["at"] = seen.content, seen.at
                if seen.expire is not None:
                    item["expire"] = seen.expire
            if k in self.conflicts:
                item["conflict"] = list(self.conflicts[k])
            if k in self.waiting:
                item["waiting"] = self.waiting[k]
            if item:
                records[k] = item
        zones: dict[str, Any] = {}
        for d in sorted(domains):
            item = {}
            if d in self.verified:
                item["verified"] = self.verified[d]
            if d in self.first_seen:
                item["first_seen"] = self.first_seen[d]
            if item:
                zones[d] = item
        return {"records": records, "domains": zones}

    @classmethod
    def from_json(cls, data: Any) -> Known:
        known = cls()
        for k, item in dict(data.get("records", {})).items():
            if "content" in item:
                known.seen[k] = SeenValue(
                    str(item["content"]), float(item["at"]), item.get("expire")
                )
            if "conflict" in item:
                known.conflicts[k] = tuple(str(v) for v in item["conflict"])
            if "waiting" in item:
                known.waiting[k] = float(item["waiting"])
        for d, item in dict(data.get("domains", {})).items():
            if "verified" in item:
                known.verified[d] = float(item["verified"])
            if "first_seen" in item:
                known.first_seen[d] = float(item["first_seen"])
        return known


class Memory:
    """The memory of the records ``keys`` in ``domains``; ``state`` None: in-process."""

    def __init__(
        self, state: statedir.StateDir | None, keys: Iterable[str], domains: Iterable[str]
    ) -> None:
        self.file = state.shared(statedir.StateDir.RECORDS) if state is not None else None
        self.keys, self.domains = set(keys), set(domains)
        self.known = Known()
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of what was read
        self._saved: dict[str, Any] = self.known.to_json(self.keys, self.domains)
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def load(self) -> None:
        """Take over what another process wrote since the last load or save."""
        if self.file is None:
            return
        try:
            st = self.file.path.stat()
        except OSError:
            return
        if (st.st_mtime_ns, st.st_size) == self._stamp:
            return
        with self._locked() as usable:
            data = self._read() if usable else None
            if data is not None:
                self.known = Known.from_json(data)
                self._saved = self.known.to_json(self.keys, self.domains)
            self._stamp = (st.st_mtime_ns, st.st_size)

    def save(self) -> None:
        """Write what this process changed since it last loaded or saved; everything else in
        the file stands (another configuration's records, and what another process of this
        configuration wrote meanwhile, e.g. a ``once`` beside the daemon), and is taken over."""
        mine = self.known.to_json(self.keys, self.domains)
        if mine == self._saved or self.file is None:
            return
        with self._locked() as usable:
            if not usable:
                return
            data = self._read() or {}
            for section in ("records", "domains"):
                ours, before = mine[section], self._saved.get(section, {})
                merged = dict(data.get(section, {}))
                for key in set(ours) | set(before):
                    if ours.get(key) == before.get(key):
                        continue  # not changed here: the file's value stands
                    if key in ours:
                        merged[key] = ours[key]
                    else:
                        merged.pop(key, None)
                data[section] = merged
            data["version"] = 1
            if self._write(data):
                self.known = Known.from_json(data)
                self._saved = self.known.to_json(self.keys, self.domains)

    # -- the file

    @contextlib.contextmanager
    def _locked(self) -> Iterator[bool]:
        """Hold the file's flock; yields False when the state dir cannot hold it."""
        assert self.file is not None
        with self._lock, contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.file.locked())
            except OSError as exc:
                self._warn("use", f"cannot use {self.file.path.parent} ({exc.strerror})")
                yield False
                return
            yield True

    def _read(self) -> dict[str, Any] | None:
        """The file's content, checked (:class:`RecordsFile`); None when there is none or
        it was set aside."""
        assert self.file is not None
        advice = "ddnsd reads the records from TransIP again; delete the file"
        try:
            data = self.file.read(RecordsFile, advice=advice)
        except OSError as exc:
            self._warn("read", f"cannot read {self.file.path} ({exc.strerror})")
            return None
        return None if data is None else data.model_dump(exclude_none=True)

    def _write(self, data: dict[str, Any]) -> bool:
        assert self.file is not None
        try:
            self.file.write(data)
            st = self.file.path.stat()
            self._stamp = (st.st_mtime_ns, st.st_size)
            return True
        except OSError as exc:
            self._warn("use", f"cannot write {self.file.path} ({exc.strerror})")
            return False

    def _warn(self, what: str, text: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("record memory: %s; remembering in this process only", text)
