"""Who is at the other end of the hook socket, as the kernel says (SO_PEERCRED/PEERGROUPS).

A process started as ``nobody`` with a supplementary group that no group database lists
(as with groups from LDAP, or ``setpriv --groups``) is seen with that group: the daemon
must take the groups from the kernel, not from /etc/group.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from uid_support import require_root

from ddnsd.handoff import peers

UNLISTED_GID = 47111  # in no group database of this machine


def test_peer_groups_come_from_the_kernel() -> None:
    require_root()
    with tempfile.TemporaryDirectory(prefix="ddnsd-peer-") as tmp:
        os.chmod(tmp, 0o755)  # noqa: S103 - nobody must reach the socket
        path = Path(tmp) / "s.sock"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        os.chmod(path, 0o666)  # noqa: S103 - as the daemon does: credentials decide
        server.listen(1)
        server.settimeout(30)
        client = subprocess.Popen(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                f"--groups={UNLISTED_GID}",
                "--",
                sys.executable,
                "-c",
                "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                "s.recv(1)",
                str(path),
            ]
        )
        try:
            conn, _ = server.accept()
            with conn:
                seen = peers.peer_of(conn)
                uid_only = peers.peer_of(conn, with_groups=False)
                conn.sendall(b"x")
        finally:
            client.wait(30)
            server.close()
    assert (seen.uid, seen.gid, seen.pid) == (65534, 65534, client.pid)
    assert UNLISTED_GID in seen.groups
    assert peers.allowed(seen.uid, seen.groups, 0, UNLISTED_GID)
    assert uid_only.groups == (65534,)  # the primary gid only: no database read
    assert not peers.allowed(uid_only.uid, uid_only.groups, 0, UNLISTED_GID)
