"""The event history: append-only JSON lines in the state dir, bounded by size.

``history.jsonl`` holds the newest events, one :class:`~ddnsd.observe.events.Event` a
line; when a line would take it past half of ``max_bytes`` it becomes
``history.jsonl.1`` (replacing the older one) and a new file starts, so the two together
never exceed ``max_bytes`` (4 MiB by default: years of a home server's address changes
and certificates, months of a flapping connection).

Every process of the machine appends (the daemon, ``once``, the ACME hooks) under an
``flock`` on ``history.lock``, so rotation and appends never interleave. A line is
written with one ``write()``; a line cut short by a crash (power loss, full disk) is
skipped on reading, and the next append starts on a new line. Files are mode 0600 and,
like every file of the state dir, belong to the directory's owner (:mod:`ddnsd.statefiles`:
root's hooks write into the daemon user's history). Writing never fails the caller: a
history that cannot be written is logged once. Read back, each file is a state file
(:func:`ddnsd.readback.read_bytes`): a link, a file of another user's or one larger than
any ``[state] history_bytes`` makes it (64 MiB: a bound lowered since is no reason) is set
aside; a line that is not an event of the documented shape
(:meth:`~ddnsd.observe.events.Event.from_json`) is skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ddnsd import readback, statefiles
from ddnsd.config.models import MAX_HISTORY_BYTES
from ddnsd.errors import DdnsdError
from ddnsd.observe.events import Event
from ddnsd.statedir import StateDir

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 4 * 1024 * 1024


def parse_lines(data: bytes) -> Iterator[Event]:
    """The events in ``data`` (JSON lines), one by one; lines that are not an event are
    skipped."""
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue  # a torn or foreign line
        ev = Event.from_json(obj)
        if ev is not None:
            yield ev


class History:
    """The history files of one state dir. Thread-safe; safe across processes."""

    def __init__(self, state: StateDir, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 2048:
            raise ValueError(f"the history needs at least 2048 bytes, not {max_bytes}")
        self.dir = state.path
        self.path = state.file(StateDir.HISTORY)
        self.rotated = state.file(StateDir.HISTORY_ROTATED)
        self.lock_path = state.file(StateDir.HISTORY_LOCK)
        self.max_bytes = max_bytes
        self._thread_lock = threading.Lock()
        self._warned = False

    @property
    def half(self) -> int:
        return self.max_bytes // 2

    # -- writing ---------------------------------------------------------------------

    def append(self, event: Event) -> bool:
        """Add ``event``; False (logged once) when the file cannot be written."""
        line = (event.to_line() + "\n").encode("utf-8")
        if len(line) > self.half:
            log.warning(
                "history: a %s event of %d bytes is too large to keep", event.kind, len(line)
            )
            return False
        try:
            with self._locked():
                self._append(line)
        except (OSError, DdnsdError) as exc:
            if not self._warned:
                self._warned = True
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                log.warning(
                    "history: cannot write %s (%s); events are not kept until it can be",
                    self.path,
                    why,
                )
            return False
        return True

    def _append(self, line: bytes) -> None:
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT  # never through a link (statefiles)
        fd = statefiles.open_nofollow(self.path, flags)
        try:
            statefiles.adopt(fd, self.dir)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # the last line was cut short: start a new one
            if size and size + len(line) > self.half:
                os.replace(self.path, self.rotated)
                os.close(fd)
                fd = -1
                fd = statefiles.open_nofollow(self.path, flags)
                statefiles.adopt(fd, self.dir)
                line = line.lstrip(b"\n")
            os.write(fd, line)
        finally:
            if fd >= 0:
                os.close(fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        statefiles.make_dir(self.dir)
        with self._thread_lock, statefiles.held(self.lock_path):
            yield

    # -- reading ---------------------------------------------------------------------

    def events(self, since: float | None = None) -> list[Event]:
        """Every event kept, oldest first (``since``: only those at or after it)."""
        return [e for e in self.scan() if since is None or e.at >= since]

    def scan(self) -> Iterator[Event]:
        """Every event kept, oldest first, parsed one by one: nothing of them is kept here (a
        full history is 4 MiB of lines, some 26 MiB as events; the status page keeps what
        it shows, see :class:`ddnsd.observe.status.Recent`)."""
        return parse_lines(self._read_both())

    def stamp(self) -> tuple[int, ...]:
        """Changes whenever the files change (inode, size, mtime of both)."""
        stamp: list[int] = []
        for p in (self.rotated, self.path):
            try:
                st = p.stat()
                stamp += [st.st_ino, st.st_size, st.st_mtime_ns]
            except OSError:
                stamp += [0, 0, 0]
        return tuple(stamp)

    def _read_both(self) -> bytes:
        """Both files, under a shared lock when writers use one (never in the middle of a
        rotation); a missing state dir is not created for reading."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            fd = -1
        try:
            if fd >= 0:
                statefiles.lock(fd, shared=True)
            return b"".join(self._read(p) for p in (self.rotated, self.path))
        finally:
            if fd >= 0:
                os.close(fd)

    def _read(self, path: Path) -> bytes:
        try:
            # a file written under a larger bound is ours too: the ceiling, not the bound
            data = readback.read_bytes(path, max_bytes=MAX_HISTORY_BYTES) or b""
        except readback.Unusable as exc:
            readback.set_aside(path, str(exc), "the history starts afresh; delete the file")
            return b""
        except OSError:
            return b""
        return data if data.endswith(b"\n") or not data else data + b"\n"

    def size(self) -> int:
        """Bytes in both files together (never above ``max_bytes``)."""
        total = 0
        for p in (self.rotated, self.path):
            with contextlib.suppress(OSError):
                total += p.stat().st_size
        return total
