"""Files in the state directory: who owns them, how they are written, what a killed process left.

Ownership. The daemon (or ``ddnsd-once.timer``) runs as an unprivileged user that owns the
state directory, while certbot runs its hooks as root against the same directory. A file
that root creates there (token cache, ACME journal, its locks, ``domains.json``, the request
budget, the history, their temporary files) would be unreadable or unlockable by the next
unprivileged run. So every writer of the state directory creates its files through this
module: a process running as root hands each file it creates, or finds owned by someone
else, to the directory's owner. Anyone else creates files as itself. Files are mode 0600:
nobody but their owner needs them.

Atomic writes. A state file is written to a hidden temporary file beside it
(``.<name>.<pid>-<random>.tmp``), then renamed over it: a reader sees the old or the new
content, never half of it.

Litter. A process killed between the two leaves the temporary file behind; the next ddnsd
process removes it at start (:func:`remove_litter`), but never one that another live
process may still be writing: a temporary file is litter once it is more than
:data:`LITTER_AGE` seconds old and the process named in it (if any) is gone. Lock files
of finished calls (the ACME POST locks, ``acme/inflight.py``) are litter once nobody holds
them; the caller says which those are.

Locks. Every ``flock`` of ddnsd is taken here (:func:`lock`, :func:`held`): the shared
JSON files, the ACME journal, the history, the per-call POST locks and the cleanup owner.

Reading a file back is :mod:`ddnsd.readback`'s; the directory and its named files are
:mod:`ddnsd.statedir`'s.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ddnsd.errors import DdnsdError

log = logging.getLogger(__name__)

LITTER_AGE = 60.0  # seconds; a write takes milliseconds

# the pid in a temporary file's name: ".<name>.<pid>.tmp" or ".<name>.<pid>-<hex>.tmp"
_PID = re.compile(r"^\..+\.(\d+)(?:-[0-9a-f]+)?\.tmp$")

# -- ownership -------------------------------------------------------------------


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


#: why :func:`adopt` refuses a file (the strerror of its OSError)
NOT_OURS = (
    "it is not a plain file with a single link, and ddnsd hands only such files "
    "to the state directory's owner: remove it"
)
_NO_LINKS = "ddnsd does not follow links in its state directory: remove it"
#: why a symbolic link in the state directory is not opened (see :func:`open_nofollow`)
A_LINK = f"it is a symbolic link; {_NO_LINKS}"


def adopt(fd: int, directory: Path) -> None:
    """Give the open file ``fd`` to the owner of ``directory`` (see :func:`owner_of`).

    Only a regular file with one link: anything else (a hard link the directory's owner
    planted to a file of root's, a device, a FIFO) would hand over more than a state file.
    OSError (EPERM, :data:`NOT_OURS`) for those.
    """
    owner = owner_of(directory)
    if owner is None:
        return
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) == owner:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        raise OSError(errno.EPERM, NOT_OURS)
    os.fchown(fd, *owner)


def open_nofollow(path: Path | str, flags: int, mode: int = 0o600) -> int:
    """``os.open`` that never follows a symbolic link at ``path`` (O_NOFOLLOW, O_CLOEXEC).

    A link there is an OSError (ELOOP) whose strerror is :data:`A_LINK`: the owner of the
    state directory could point it at any file of root's.
    """
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EEXIST) and os.path.islink(path):
            raise OSError(errno.ELOOP, A_LINK, str(path)) from exc
        raise


def make_dir(directory: Path) -> None:
    """Create ``directory`` (mode 0700) and missing parents (the default mode, as
    ``mkdir -p``); each one this call creates gets the owner of the nearest directory that
    existed (see :func:`owner_of`).

    One level at a time, each below a descriptor of the one above and opened without
    following a link, so a level swapped for a link meanwhile takes nothing elsewhere. A
    level another process created meanwhile is used as it is.
    """
    directory = Path(directory)
    if directory.is_dir():
        return
    existing = directory.parent
    while not existing.is_dir() and existing != existing.parent:
        existing = existing.parent
    missing = directory.relative_to(existing).parts
    owner = owner_of(existing)
    fd = os.open(existing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for depth, name in enumerate(missing, 1):
            try:
                os.mkdir(name, 0o700 if depth == len(missing) else 0o777, dir_fd=fd)
                made = True
            except FileExistsError:
                made = False  # another process's; the open below fails unless a directory
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            level = os.open(name, flags, dir_fd=fd)
            os.close(fd)
            fd = level
            if made and owner is not None:
                os.fchown(fd, *owner)
    finally:
        os.close(fd)


def open_lock(path: Path | str, *, new: bool = False) -> int:
    """Open (creating it if needed) the lock file ``path`` for ``flock``; the descriptor.

    ``new``: the file must not exist yet (a per-call lock). A lock file that root left
    behind in another user's directory is handed back to that user here; one this process
    may not open is a :class:`DdnsdError` saying so.
    """
    flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if new else 0)
    try:
        fd = open_nofollow(path, flags)
    except OSError as exc:
        if exc.strerror == A_LINK:
            raise DdnsdError(f"{path} is a symbolic link; {_NO_LINKS}") from exc
        try:
            owner = os.lstat(path).st_uid
        except OSError:
            raise DdnsdError(
                f"cannot create the lock file {path}: {exc.strerror}; "
                "check that state.dir is writable"
            ) from exc
        raise DdnsdError(
            f"cannot open the lock file {path} (owned by uid {owner}, this process runs as "
            f"uid {os.geteuid()}): {exc.strerror}; give it to the user ddnsd runs as (chown) "
            "or remove it"
        ) from exc
    try:
        adopt(fd, Path(os.path.dirname(path)))  # not Path(path): see temp_path
    except OSError as exc:
        os.close(fd)
        raise DdnsdError(f"cannot use the lock file {path}: {exc.strerror}") from exc
    return fd


def lock(fd: int, *, shared: bool = False, wait: bool = True) -> bool:
    """``flock`` the open file ``fd`` (exclusive unless ``shared``); closing it releases
    the lock. ``wait`` False: False at once when another holds it. OSError otherwise."""
    kind = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
    try:
        fcntl.flock(fd, kind)
    except OSError as exc:
        if not wait and exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


@contextlib.contextmanager
def held(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the lock file ``path`` (:func:`open_lock`) for the block, waiting for it."""
    fd = open_lock(path)
    try:
        lock(fd, shared=shared)
        yield
    finally:
        os.close(fd)  # releases the flock


# -- atomic writes ---------------------------------------------------------------


def temp_path(path: Path) -> str:
    """A fresh temporary file for writing ``path``: ``.<name>.<pid>-<random>.tmp`` beside it
    (the pid tells :func:`is_litter` whether its writer lives; the random part keeps two
    threads of one process apart).

    A ``str``, never a :class:`~pathlib.Path`: pathlib interns every name it parses, and a
    name made fresh for each write grows the interpreter's table of interned strings (the
    daemon's status file is written every round: one step of ~1 MiB after some 8,000 rounds,
    see docs/design.md, "Memory")."""
    return os.path.join(path.parent, f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def write_atomic(path: Path, data: str, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` at once: temporary file (mode 0600), owner, rename.

    ``durable`` also syncs the file and the directory (the ACME journal, the token cache).
    Raises OSError; the temporary file never outlives a failure.
    """
    directory = path.parent
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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


# -- litter ----------------------------------------------------------------------


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


def remove_litter(
    state_dir: Path,
    *,
    unheld_lock: Callable[[str], bool] | None = None,
    now: float | None = None,
) -> list[str]:
    """Remove what killed processes left in ``state_dir``; the names removed.

    ``unheld_lock(name)``: whether ``name`` is a lock file of a call that is over (it
    removes the file when it says so); checked for files older than :data:`LITTER_AGE`.
    """
    now = time.time() if now is None else now
    removed: list[str] = []
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
        if age > LITTER_AGE and unheld_lock is not None and unheld_lock(name):
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
