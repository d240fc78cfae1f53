"""Root in a state directory that ``nobody`` owns (certbot's hooks in the daemon user's
directory): root hands its files to that user, and nothing else.

The user could plant a symbolic or hard link where a lock file or the history should be;
root must then neither give the link's target away nor write to it, and say why.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from uid_support import user_state

from ddnsd.acme.inflight import WriteLocks
from ddnsd.errors import DdnsdError
from ddnsd.observe.events import event
from ddnsd.observe.history import History
from ddnsd.statedir import StateDir
from ddnsd.statefiles import make_dir, open_lock
from ddnsd.transip.budget import Budget
from ddnsd.transip.ledger import DDNS

SECRET = b"root:$6$not-yours:19000:0:99999:7:::\n"
NO_LINKS = "ddnsd does not follow links in its state directory: remove it"
NOT_OURS = (
    "it is not a plain file with a single link, and ddnsd hands only such files "
    "to the state directory's owner: remove it"
)


@dataclass(frozen=True)
class Place:
    """``state`` (0700, the user's) and ``target``: a file of root's beside it (0640)."""

    state: Path
    target: Path
    uid: int
    gid: int

    def as_user(self, *command: str) -> None:
        prefix = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--"]
        subprocess.run([*prefix, *command], check=True, capture_output=True)

    def plant(self, name: str, how: str) -> Path:
        """A link to ``target`` named ``name`` in the state dir: the user's symlink, or a
        hard link (root makes it: ``fs.protected_hardlinks`` stops the user here, not
        everywhere)."""
        path = self.state / name
        if how == "symlink":
            self.as_user("ln", "-s", str(self.target), str(path))
        else:
            os.link(self.target, path)
        return path

    def assert_target_untouched(self) -> None:
        st = self.target.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o640)
        assert self.target.read_bytes() == SECRET


@pytest.fixture
def place() -> Iterator[Place]:
    with user_state("ddnsd-links-") as (base, state, pw):
        target = base / "shadow"
        target.write_bytes(SECRET)
        target.chmod(0o640)
        yield Place(state, target, pw.pw_uid, pw.pw_gid)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_symlink_for_a_lock_file_is_refused_in_one_sentence(place: Place) -> None:
    lock = place.plant("acme-journal.json.lock", "symlink")
    with pytest.raises(DdnsdError) as caught:
        open_lock(lock)
    assert str(caught.value) == f"{lock} is a symbolic link; {NO_LINKS}"
    place.assert_target_untouched()


@pytest.mark.parametrize("how", ["symlink", "hardlink"])
def test_a_linked_budget_lock_gives_nothing_away(
    place: Place, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    budget = Budget(StateDir(place.state), login="demo", api_url="https://api.test/v6")
    assert budget.file is not None
    lock = place.plant(budget.file.path.name + ".lock", how)
    budget.take(DDNS)  # counted in this process
    why = (
        f"{lock} is a symbolic link; {NO_LINKS}"
        if how == "symlink"
        else (f"cannot use the lock file {lock}: {NOT_OURS}")
    )
    assert warnings(caplog) == [
        f"the shared TransIP request budget: cannot use {place.state} ({why}); "
        "counting in this process only"
    ]
    place.assert_target_untouched()


@pytest.mark.parametrize(
    ("name", "how"),
    [("history.jsonl", "symlink"), ("history.jsonl", "hardlink"), ("history.lock", "symlink")],
)
def test_a_linked_history_file_gives_nothing_away(
    place: Place, name: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    history = History(StateDir(place.state))
    planted = place.plant(name, how)
    assert history.append(event("stopped", 1.0, pid=7)) is False
    if name == "history.lock":
        why = f"{planted} is a symbolic link; {NO_LINKS}"
    else:
        why = f"it is a symbolic link; {NO_LINKS}" if how == "symlink" else NOT_OURS
    assert warnings(caplog) == [
        f"history: cannot write {history.path} ({why}); events are not kept until it can be"
    ]
    place.assert_target_untouched()


def test_a_symlink_for_a_post_lock_opens_nothing_of_roots(place: Place) -> None:
    """Root asks whether a POST call still runs by opening its lock file read-write: through
    the user's link that would open any device or pipe of root's (here a pipe whose reader
    wakes up when a writer opens it). The link is no call's lock: litter, removed."""
    fifo = place.target.with_name("pipe")
    os.mkfifo(fifo, 0o600)
    opened = threading.Event()

    def reader() -> None:
        os.close(os.open(fifo, os.O_RDONLY))  # blocks until someone opens it for writing
        opened.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    link = place.state / ".acme-post-1-0a1b2c3d.lock"
    place.as_user("ln", "-s", str(fifo), str(link))
    try:
        assert WriteLocks(StateDir(place.state)).active("1-0a1b2c3d") is False
        assert opened.wait(0.5) is False
        assert not link.is_symlink()
    finally:
        with contextlib.suppress(OSError):  # lets the reader go (ENXIO: it went already)
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)


def test_root_makes_nested_directories_for_the_owner_of_the_one_that_exists(place: Place) -> None:
    """``state.dir`` two levels below the user's directory, created first by root's hook:
    both new levels are the user's (the upper one with the default mode, as ``mkdir -p``),
    and the user's daemon can use them."""
    umask = os.umask(0o022)
    try:
        make_dir(place.state / "a" / "b")
    finally:
        os.umask(umask)
    for name, mode in (("a", 0o755), ("a/b", 0o700)):
        st = (place.state / name).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (place.uid, place.gid, mode)
    place.as_user("mkdir", str(place.state / "a" / "c"))
    place.as_user("touch", str(place.state / "a" / "b" / "domains.json"))
