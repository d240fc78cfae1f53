"""The cleanup-owner lock: one process at a time removes stale ACME journal entries.

``state_dir/acme-cleanup.lock`` is held with an exclusive, non-blocking ``flock``. Every
ddnsd process sweeps stale entries on start while holding it; a process that finds it
taken leaves the sweep to the holder. A process may also keep it for good (``claim``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ddnsd import statefiles
from ddnsd.errors import DdnsdError

# Locks held by this process, by lock file path: flock conflicts between two descriptors
# of one process too, so the process keeps one descriptor per file.
_owner_fds: dict[str, int] = {}
_owner_guard = threading.Lock()


class CleanupOwner:
    """The cleanup-owner lock at ``path``; ``ensure_dir`` creates its directory first."""

    def __init__(self, path: Path, ensure_dir: Callable[[], None]) -> None:
        self.path = path
        self._ensure_dir = ensure_dir

    def _key(self) -> str:
        return str(self.path.resolve())

    def claim(self) -> bool:
        """Become (or stay) the owner; False if another process holds the lock.

        The lock lives until :meth:`release` or the end of the process.
        """
        self._ensure_dir()
        key = self._key()
        with _owner_guard:
            if key in _owner_fds:
                return True
            fd = statefiles.open_lock(self.path)  # the state dir's owner's (statefiles.py)
            try:
                if not statefiles.lock(fd, wait=False):
                    os.close(fd)
                    return False
            except OSError as exc:
                os.close(fd)
                raise DdnsdError(
                    f"cannot lock {self.path} ({exc.strerror}); check that state.dir is writable"
                ) from exc
            _owner_fds[key] = fd
            return True

    @contextlib.contextmanager
    def held(self) -> Iterator[bool]:
        """Hold the lock for a sweep: yields False if another process has it.

        Released afterwards unless this process held it already (:meth:`claim`).
        """
        held_before = self._key() in _owner_fds
        owner = self.claim()
        try:
            yield owner
        finally:
            if owner and not held_before:
                self.release()

    def release(self) -> None:
        """Let another process become the owner."""
        with _owner_guard:
            fd = _owner_fds.pop(self._key(), None)
            if fd is not None:
                os.close(fd)
