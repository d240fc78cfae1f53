"""Two real users on one state directory: the daemon's (``nobody``) and root (certbot's hooks).

The tests run as root (CI does); ``as_user`` starts a command as the unprivileged uid with
``setpriv``. Everything the unprivileged process must read lives in a directory made here
with mode 0755 (pytest's own tmp dirs are root's and 0700).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CI = os.environ.get("CI") == "true"
USER = "nobody"


def require_root() -> None:
    if os.geteuid() == 0 and shutil.which("setpriv"):
        return
    message = "needs root and setpriv to run processes as two real users"
    if CI:
        pytest.fail(message + " — CI=true, so this is a failure", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class Shared:
    """A directory both users reach: ``state`` (owned by the user), the user's key copy."""

    root: Path
    state: Path
    key: Path
    uid: int
    gid: int

    @property
    def prefix(self) -> list[str]:
        """Put before a command to run it as the unprivileged user."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--"]

    def root_owned(self) -> list[str]:
        """Files and directories in the state directory that root owns."""
        return sorted(
            str(p.relative_to(self.state)) for p in self.state.rglob("*") if p.lstat().st_uid == 0
        )


@contextlib.contextmanager
def user_state(prefix: str) -> Iterator[tuple[Path, Path, pwd.struct_passwd]]:
    """(base, state, the user's passwd entry): a new directory (0755) holding ``state``
    (0700, owned by the user); removed afterwards."""
    require_root()
    pw = pwd.getpwnam(USER)
    base = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        base.chmod(0o755)
        state = base / "state"
        state.mkdir(mode=0o700)
        os.chown(state, pw.pw_uid, pw.pw_gid)
        yield base, state, pw
    finally:
        shutil.rmtree(base, ignore_errors=True)


def shared_dir(private_key: Path) -> Iterator[Shared]:
    with user_state("ddnsd-uids-") as (base, state, pw):
        key = base / "transip.key"
        shutil.copyfile(private_key, key)
        key.chmod(0o600)
        os.chown(key, pw.pw_uid, pw.pw_gid)  # the daemon's copy (systemd: LoadCredential)
        user = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"]
        probe = subprocess.run(
            [*user, sys.executable, "-c", "import ddnsd"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert probe.returncode == 0, f"{USER} cannot run this checkout's ddnsd: {probe.stderr}"
        yield Shared(base, state, key, pw.pw_uid, pw.pw_gid)
