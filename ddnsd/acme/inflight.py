"""May a challenge POST still land? The rule, and the locks that tell a live writer from a dead one.

A POST that got no answer (timeout, reset, 5xx), or whose process was killed before the
answer came, may still be applied at TransIP later. Removing the value and forgetting it
at that moment leaves an orphan when the POST lands afterwards. So the journal keeps, per
value, when ddnsd last sent a POST whose outcome it does not know (``attempt``) and which
process sent it (``writer``), and a value leaves the journal only when :func:`may_still_land`
says no:

* while the writing process is still inside its POST call (its lock is held), yes;
* once the call is over (or the process is found gone: then "over" is counted from the
  moment that was noticed), for ``window`` seconds: the client timeout plus the time
  TransIP may take to apply a write it accepted (:data:`BEING_SAVED`);
* a value without a POST in doubt (every POST got its answer): no.

Each POST call holds an exclusive ``flock`` on its own file ``.acme-post-<id>.lock`` in the
state directory; the kernel releases it when the process ends, SIGKILL included. A file
that can be locked belongs to a call that is over and is removed by whoever notices.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

from ddnsd import statefiles
from ddnsd.statedir import StateDir

#: Seconds TransIP may take to apply a write it accepted; it answers 409 "DNS Entries are
#: currently being saved" meanwhile. TransIP documents no figure: ddnsd allows a minute.
BEING_SAVED = 60.0

LOCK_PREFIX, LOCK_SUFFIX = StateDir.POST_LOCK.split("{}")
#: a lock id: ``<pid>-<8 hex digits>`` (the journal accepts no other ``writer``: it names a file)
WRITER_ID = r"^[0-9]{1,10}-[0-9a-f]{8}$"


def landing_window(timeout: float) -> float:
    """Seconds after a POST call ended during which its request may still be applied."""
    return max(timeout, 0.0) + BEING_SAVED


def may_still_land(attempt: float | None, window: float, now: float, *, in_flight: bool) -> bool:
    """True while a POST of a value may still be applied at TransIP.

    ``attempt``: wall-clock time of the last POST whose outcome is unknown (None: none);
    ``in_flight``: the process that sent it is still inside the call. A clock that went
    backwards keeps the value waiting until it catches up again.
    """
    if in_flight:
        return True
    if attempt is None:
        return False
    return now < attempt + window


class WriteLocks:
    """The per-call locks of POSTs in ``state``; ``hold()`` around a call, ``active(id)``."""

    def __init__(self, state: StateDir) -> None:
        self.state = state

    def _path(self, ident: str) -> str:
        return self.state.fresh(StateDir.POST_LOCK, ident)

    @contextlib.contextmanager
    def hold(self) -> Iterator[str]:
        """Hold a fresh lock for one POST call; yields its id (record it only after this)."""
        ident = f"{os.getpid()}-{secrets.token_hex(4)}"
        path = self._path(ident)
        self.state.make()
        fd = statefiles.open_lock(path, new=True)  # the state dir's owner's (statefiles.py)
        try:
            statefiles.lock(fd)
            yield ident
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)  # before the close: nobody sees it unlocked and present
            os.close(fd)

    def unheld(self, name: str) -> bool:
        """Whether the file ``name`` is the lock of a POST call that is over (then it is
        removed); :func:`ddnsd.statefiles.remove_litter` asks this."""
        if not (name.startswith(LOCK_PREFIX) and name.endswith(LOCK_SUFFIX)):
            return False
        return not self.active(name[len(LOCK_PREFIX) : -len(LOCK_SUFFIX)])

    def active(self, ident: str) -> bool:
        """True while the call holding lock ``ident`` is running (in any process)."""
        path = self._path(ident)
        try:
            fd = statefiles.open_nofollow(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.strerror == statefiles.A_LINK:  # no call's lock: litter
                with contextlib.suppress(OSError):
                    os.unlink(path)
                return False
            return True  # cannot tell: assume the call still runs
        try:
            if not statefiles.lock(fd, wait=False):
                return True
            with contextlib.suppress(OSError):
                os.unlink(path)  # the call is over (its process ended): the file is litter
            return False
        except OSError:
            return False  # not a lock anyone can hold
        finally:
            os.close(fd)
