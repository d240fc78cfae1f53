"""Files in the state directory: atomic writes, and the litter a killed process leaves.

Every state file (the ACME journal, the token cache, ``domains.json``) is written to a
hidden temporary file beside it (``.<name>.<pid>.tmp``, or ``.<name>-<random>.tmp``), then
renamed over it. A process killed in between leaves the temporary file behind; the next
ddnsd process removes it at start (:func:`remove_litter`), but never one that another
live process may still be writing: a temporary file is litter once it is more than
:data:`LITTER_AGE` seconds old and the process named in it (if any) is gone. The per-call
locks of ACME POSTs (``.acme-post-*.lock``) are litter once nobody holds them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from pathlib import Path

from ddnsd.acme.inflight import LOCK_PREFIX, LOCK_SUFFIX, WriteLocks

log = logging.getLogger(__name__)

LITTER_AGE = 60.0  # seconds; a write takes milliseconds

_PID = re.compile(r"^\..+\.(\d+)\.tmp$")


def temp_path(path: Path) -> Path:
    """The temporary file ``path`` is written through: ``.<name>.<pid>.tmp`` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` all at once (temp file, fsync, rename, directory fsync).

    Raises OSError; the temporary file is gone afterwards either way."""
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # an earlier process with our pid (a container's PID 1): we write nothing yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def is_litter(name: str, age: float) -> bool:
    """Whether the temporary file ``name``, ``age`` seconds old, was left by a killed process."""
    if age <= LITTER_AGE or not name.startswith(".") or not name.endswith(".tmp"):
        return False
    match = _PID.match(name)
    return match is None or not _process_alive(int(match.group(1)))


def remove_litter(state_dir: Path, *, now: float | None = None) -> list[str]:
    """Remove what killed processes left in ``state_dir``; the names removed."""
    now = time.time() if now is None else now
    removed: list[str] = []
    locks = WriteLocks(state_dir)
    try:
        files = list(os.scandir(state_dir))
    except OSError:
        return []
    for item in files:
        try:
            age = now - item.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        name = item.name
        if name.startswith(LOCK_PREFIX) and name.endswith(LOCK_SUFFIX) and age > LITTER_AGE:
            if not locks.active(name[len(LOCK_PREFIX) : -len(LOCK_SUFFIX)]):  # removes it
                removed.append(name)
        elif item.is_file(follow_symlinks=False) and is_litter(name, age):
            with contextlib.suppress(OSError):
                os.unlink(item.path)
                removed.append(name)
    if removed:
        log.info(
            "removed %d file(s) a killed ddnsd left in %s: %s",
            len(removed),
            state_dir,
            ", ".join(sorted(removed)),
        )
    return removed
