"""A small JSON file in the state directory that several ddnsd processes change.

Each change is a read-modify-write under an ``flock`` on ``<name>.lock`` beside the file,
and the file is replaced atomically (temporary file + rename): a reader sees the old or
the new content, never half of it. No fsync: these files only save requests (the request
budget, the records' memory), a change lost in a crash costs at most some of them.

The callers decide what a failure means; here an unusable directory or file is an
``OSError`` and unparsable content a ``ValueError``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ddnsd import statefiles
from ddnsd.errors import DdnsdError


class StateFile:
    """The JSON file at ``path`` (its directory is created 0700 when needed)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self, *, exclusive: bool = True) -> Iterator[None]:
        """Hold the file's lock (shared for reading only); OSError when the directory
        cannot hold it."""
        statefiles.make_dir(self.path.parent)
        try:
            fd = statefiles.open_lock(self.path.with_name(self.path.name + ".lock"))
        except DdnsdError as exc:
            raise OSError(str(exc)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the flock

    def read(self) -> Any:
        """The parsed content; None when there is no file (ValueError: not JSON)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text)

    def write(self, data: Any) -> None:
        """Replace the file with ``data`` as JSON, atomically (mode 0600, the state dir's
        owner: see :mod:`ddnsd.statefiles`)."""
        statefiles.write_atomic(self.path, json.dumps(data))
