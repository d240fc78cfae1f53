"""The state directory and its named files: :class:`StateDir` (every file ddnsd keeps,
named once, prepared once per process) and :class:`StateFile` (a small JSON file several
processes change). Files are created by :mod:`ddnsd.statefiles`' rules and read back by
:mod:`ddnsd.readback`'s.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ddnsd.errors import DdnsdError
from ddnsd.readback import M, read_back
from ddnsd.statefiles import lock, make_dir, open_lock, remove_litter, write_atomic

log = logging.getLogger(__name__)

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

    def file(self, name: str, *parts: str) -> Path:
        """The file ``name`` (one of the names above, ``parts`` filling its ``{}``)."""
        return self.path / name.format(*parts)

    def fresh(self, name: str, *parts: str) -> str:
        """The file ``name`` for ``parts`` made fresh for one call (a POST's lock): a ``str``,
        not a Path, for the reason :func:`~ddnsd.statefiles.temp_path` gives."""
        return os.path.join(self.path, name.format(*parts))

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
        # made once: a name pathlib parses is interned, and one built afresh at every use
        # (every round) churns the interpreter's table of them (docs/design.md, "Memory")
        self.lock_path = path.with_name(path.name + ".lock")

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self, *, exclusive: bool = True) -> Iterator[None]:
        """Hold the file's lock (shared for reading only); OSError when the directory
        cannot hold it."""
        make_dir(self.path.parent)
        try:
            fd = open_lock(self.lock_path)
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
