"""Files in the state directory belong to the directory's owner, whoever creates them.

The daemon (or ``ddnsd-once.timer``) runs as an unprivileged user that owns the state
directory, while certbot runs its hooks as root against the same directory. A file that
root creates there (token cache, ACME journal, its locks, ``domains.json``, the request
budget, their temporary files) would be unreadable or unlockable by the next unprivileged
run. So every writer of the state directory creates its files through this module: a
process running as root hands each file it creates, or finds owned by someone else,
to the directory's owner. Anyone else creates files as itself, as before. Files are
mode 0600: nobody but their owner needs them.

Standard library only: hook processes use it on their fast path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ddnsd.errors import DdnsdError


def owner_of(directory: Path) -> tuple[int, int] | None:
    """``(uid, gid)`` that files in ``directory`` must get, or None when nothing is to change.

    Only a process running as root hands files over, and only in a directory that root
    does not own (so root's own state directories stay as they are).
    """
    if os.geteuid() != 0:
        return None
    try:
        st = os.stat(directory)
    except OSError:
        return None
    return None if st.st_uid == 0 else (st.st_uid, st.st_gid)


def adopt(fd: int, directory: Path) -> None:
    """Give the open file ``fd`` to the owner of ``directory`` (see :func:`owner_of`)."""
    owner = owner_of(directory)
    if owner is None:
        return
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) != owner:
        os.fchown(fd, *owner)


def make_dir(directory: Path) -> None:
    """Create ``directory`` (mode 0700) and missing parents; a new one gets its parent's owner."""
    directory = Path(directory)
    if directory.is_dir():
        return
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    owner = owner_of(directory.parent)
    if owner is not None:
        os.chown(directory, *owner)


def open_lock(path: Path) -> int:
    """Open (creating it if needed) the lock file ``path`` for ``flock``; the descriptor.

    A lock file that root left behind in another user's directory is handed back to
    that user here; one this process may not open is a :class:`DdnsdError` saying so.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        owner = ""
        with contextlib.suppress(OSError):
            owner = (
                f" (owned by uid {os.stat(path).st_uid}, this process runs as uid {os.geteuid()})"
            )
        raise DdnsdError(
            f"cannot open the lock file {path}{owner}: {exc.strerror}; give it to the user "
            "ddnsd runs as (chown) or remove it"
        ) from exc
    try:
        adopt(fd, path.parent)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_atomic(path: Path, data: str, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` at once: temporary file (mode 0600), owner, rename.

    ``durable`` also syncs the file and the directory (the ACME journal). Raises OSError;
    the temporary file never outlives a failure.
    """
    directory = path.parent
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            adopt(fh.fileno(), directory)
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
