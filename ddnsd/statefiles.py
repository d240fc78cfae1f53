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

Reading back. A state file is input like any other: a power cut, a full disk, a clock
step or a hand edit can leave anything in it. :func:`read_back` is the one rule for every
file ddnsd reads back: never through a symbolic link, only a regular file owned by the
state directory's owner (or this process's user), at most a size cap, JSON (no NaN or
infinity, no nesting too deep to parse) that its pydantic model accepts (each model
checks its ranges and that its times lie in the window they can mean). Anything else is
*set aside* (:func:`set_aside`): renamed to ``NAME.corrupt-<UTC time>`` beside it, one
warning names it and says what to do, and the caller starts afresh.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pydantic

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


def open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
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


def open_lock(path: Path, *, new: bool = False) -> int:
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
        adopt(fd, path.parent)
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


# -- reading back ----------------------------------------------------------------

M = TypeVar("M", bound=pydantic.BaseModel)

#: the largest state file read back, unless the reader says otherwise
MAX_BYTES = 1024 * 1024
#: what a time in a state file may be at most when nothing narrower applies (9999-12-31)
LAST_TIME = 253402300799.0
#: how far ahead of the clock a time that was "now" when written may be: a clock stepped
#: back keeps what it wrote, a stamp further ahead is not a time ddnsd wrote
AHEAD = 86400.0


# Scalars of the state files' models: exactly their JSON type (no "5" for 5, no true for
# 1), numbers finite. Lists and tuples come from JSON arrays, so the models are not
# strict as a whole.
Int = Annotated[int, pydantic.Strict()]
Number = Annotated[float, pydantic.Strict(), pydantic.AllowInfNan(False)]
Text = Annotated[str, pydantic.Strict()]
Flag = Annotated[bool, pydantic.Strict()]


def _recent(value: float, info: pydantic.ValidationInfo) -> float:
    return when(value, info, ahead=AHEAD)


#: a time that was "now" when it was written (see :data:`AHEAD`)
Time = Annotated[Number, pydantic.AfterValidator(_recent)]


class Unusable(ValueError):
    """Why a state file cannot be used (its text goes into the set-aside warning)."""


def context_of(info: pydantic.ValidationInfo) -> Mapping[str, Any]:
    """What :func:`validate` passes the model's validators: ``now`` (the time the file is
    judged at) and whatever the reader adds (``read_back``'s ``context``)."""
    return info.context if isinstance(info.context, Mapping) else {"now": time.time()}


def when(value: float, info: pydantic.ValidationInfo, *, ahead: float | None = None) -> float:
    """A time read back: at most :data:`LAST_TIME`, not negative, and at most ``ahead``
    seconds after now when that is given; ValueError otherwise (validators call this)."""
    if not 0 <= value <= LAST_TIME:
        raise ValueError("a time out of range")
    if ahead is not None and value > float(context_of(info)["now"]) + ahead:
        raise ValueError(f"a time more than {ahead:g} s ahead")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"a number out of range ({text[:20]})")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not a number a state file may hold")


def parse_json(data: bytes) -> Any:
    """``data`` as JSON: Unusable when it is not UTF-8 JSON, holds NaN or an infinite
    number, or is nested too deep to parse."""
    try:
        return json.loads(data.decode("utf-8"), parse_float=_finite, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise Unusable("it is not text (UTF-8)") from None
    except RecursionError:
        raise Unusable("it is nested too deep") from None
    except ValueError as exc:
        raise Unusable(f"it is not JSON ({str(exc)[:120]})") from None


def validate(model: type[M], data: Any, context: Mapping[str, Any]) -> M:
    """``data`` as ``model`` (``context``: see :func:`context_of`); Unusable says what is
    wrong."""
    try:
        return model.model_validate(data, context=context)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "the content"
        raise Unusable(f"{where}: {first['msg']}") from None
    except RecursionError:
        raise Unusable("it is nested too deep") from None


def read_bytes(path: Path, *, max_bytes: int = MAX_BYTES) -> bytes | None:
    """The content of the state file ``path`` (None when there is none); Unusable when
    it is a link, not a regular file, owned by someone else, or larger than ``max_bytes``."""
    try:
        fd = open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)  # never wait on a FIFO
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.strerror == A_LINK:
            raise Unusable("it is a symbolic link, which ddnsd never follows") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unusable("it is not a regular file")
        owners = {os.geteuid()}
        with contextlib.suppress(OSError):
            owners.add(os.stat(path.parent).st_uid)
        if st.st_uid not in owners:
            raise Unusable(f"it belongs to uid {st.st_uid}, not to the state directory's owner")
        if st.st_size > max_bytes:
            raise Unusable(f"it is larger than {max_bytes} bytes")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise Unusable(f"it is larger than {max_bytes} bytes")
        return data
    finally:
        os.close(fd)


def set_aside(path: Path, why: str, advice: str) -> Path | None:
    """Rename the unusable state file ``path`` to ``NAME.corrupt-<UTC time>`` (a link is
    renamed itself, never its target) and warn once, naming it; the new path (None when
    another process moved it first, or it cannot be moved: then it is left in place)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while os.path.lexists(dest):
        n += 1
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    try:
        os.rename(path, dest)
    except FileNotFoundError:
        return None  # another process set it aside meanwhile
    except OSError as exc:
        log.warning(
            "%s is unusable (%s) and cannot be set aside (%s); %s, then remove it",
            path,
            why,
            exc.strerror,
            advice,
        )
        return None
    log.warning("set aside %s as %s: %s; %s", path, dest.name, why, advice)
    return dest


def read_back(
    path: Path,
    model: type[M],
    *,
    advice: str,
    max_bytes: int = MAX_BYTES,
    context: Mapping[str, Any] | None = None,
) -> M | None:
    """The state file ``path`` as ``model``; None when there is none, or when it was
    unusable and is set aside (:func:`set_aside`, ``advice`` says what the operator may
    do). ``context`` for the model's validators, ``now`` (default: the wall clock) in it.
    OSError when it cannot be read at all (the callers say what that means)."""
    try:
        data = read_bytes(path, max_bytes=max_bytes)
        if data is None:
            return None
        judged = {"now": time.time(), **(context or {})}
        return validate(model, parse_json(data), judged)
    except Unusable as exc:
        set_aside(path, str(exc), advice)
        return None


# -- atomic writes ---------------------------------------------------------------


def temp_path(path: Path) -> Path:
    """A fresh temporary file for writing ``path``: ``.<name>.<pid>-<random>.tmp`` beside it
    (the pid tells :func:`is_litter` whether its writer lives; the random part keeps two
    threads of one process apart)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


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


# -- the directory and its files ------------------------------------------------


class StateDir:
    """The state directory and every file ddnsd keeps in it, named here and nowhere else:

    ====================================  =======================================================
    ``acme-journal.json``, ``acme.lock``  the ACME journal and its lock (acme/journal.py)
    ``acme-cleanup.lock``                 the cleanup owner's lock (acme/owner.py)
    ``.acme-post-<id>.lock``              one per ACME POST call under way (acme/inflight.py)
    ``domains.json``                      the TransIP account's domains (acme/domains.py)
    ``transip-budget-<hash>.json``        the request budget per login + API (transip/budget.py)
    ``transip-token-<hash>.json``         the token cache per identity (transip/token_cache.py)
    ``records.json``                      the records' memory (reconcile/memory.py)
    ``status.json``                       the status board (observe/status.py)
    ``history.jsonl``, ``history.jsonl.1``  the events, and the lock ``history.lock``
    ``ddnsd.sock``                        the hook socket (config/places.py; ``[http] socket``)
    ``<name>.lock``                       the lock of a shared JSON file (:class:`StateFile`)
    ``.<name>.<pid>-<hex>.tmp``           a write under way (:func:`write_atomic`)
    ``<name>.corrupt-<UTC time>``         a file found unusable, set aside (:func:`set_aside`)
    ====================================  =======================================================

    Every one is created with the ownership rules above and read back with :func:`read_back`.
    """

    JOURNAL = "acme-journal.json"
    JOURNAL_LOCK = "acme.lock"
    CLEANUP_LOCK = "acme-cleanup.lock"
    POST_LOCK = ".acme-post-{}.lock"
    DOMAINS = "domains.json"
    BUDGET = "transip-budget-{}.json"
    TOKEN = "transip-token-{}.json"
    RECORDS = "records.json"
    STATUS = "status.json"
    HISTORY = "history.jsonl"
    HISTORY_ROTATED = "history.jsonl.1"
    HISTORY_LOCK = "history.lock"

    _prepared: set[Path] = set()  # directories whose litter this process removed

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"StateDir({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StateDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def file(self, name: str, *parts: str) -> Path:
        """The file ``name`` (one of the names above, ``parts`` filling its ``{}``)."""
        return self.path / name.format(*parts)

    def shared(self, name: str, *parts: str) -> StateFile:
        """The shared JSON file ``name`` (:class:`StateFile`: its lock and atomic writes)."""
        return StateFile(self.file(name, *parts))

    def make(self) -> None:
        """Create the directory (:func:`make_dir`); DdnsdError saying what to do."""
        try:
            make_dir(self.path)
        except OSError as exc:
            raise DdnsdError(
                f"cannot create the state directory {self.path} ({exc.strerror}); "
                "create it or set state.dir to a writable directory"
            ) from exc

    def prepare(self, unheld_lock: Callable[[str], bool] | None = None) -> StateDir:
        """Create the directory (OSError when it cannot be) and, once per process, remove
        what killed processes left in it (:func:`remove_litter`); itself."""
        make_dir(self.path)
        if self.path not in StateDir._prepared:
            StateDir._prepared.add(self.path)
            remove_litter(self.path, unheld_lock=unheld_lock)
        return self

    def set_aside_files(self) -> list[str]:
        """The names of the files set aside as unusable (:func:`set_aside`), sorted."""
        try:
            return sorted(name for name in os.listdir(self.path) if ".corrupt-" in name)
        except OSError:
            return []


# -- a shared JSON file ----------------------------------------------------------


class StateFile:
    """A small JSON file at ``path`` that several ddnsd processes change (the request
    budget, the records' memory); its directory is created 0700 when needed.

    Each change is a read-modify-write under an ``flock`` on ``<name>.lock`` beside the
    file, and the file is replaced atomically (:func:`write_atomic`). No fsync: these files
    only save requests, a change lost in a crash costs at most some of them. The callers
    decide what a failure means; here an unusable directory or file is an ``OSError`` and
    unparsable content a ``ValueError``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self, *, exclusive: bool = True) -> Iterator[None]:
        """Hold the file's lock (shared for reading only); OSError when the directory
        cannot hold it."""
        make_dir(self.path.parent)
        try:
            fd = open_lock(self.path.with_name(self.path.name + ".lock"))
        except DdnsdError as exc:  # the callers say "cannot use <dir> (<strerror>)"
            cause = exc.__cause__
            code = cause.errno if isinstance(cause, OSError) and cause.errno else errno.EIO
            raise OSError(code, str(exc)) from exc
        try:
            lock(fd, shared=not exclusive)
            yield
        finally:
            os.close(fd)  # releases the flock

    def read(
        self, model: type[M], *, advice: str, context: Mapping[str, Any] | None = None
    ) -> M | None:
        """The content as ``model`` (:func:`read_back`): None when there is no file or it
        was unusable and is set aside."""
        return read_back(self.path, model, advice=advice, context=context)

    def write(self, data: Any) -> None:
        """Replace the file with ``data`` as JSON, atomically (mode 0600, the state dir's owner)."""
        write_atomic(self.path, json.dumps(data))
