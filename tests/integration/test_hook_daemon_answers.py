"""``ddnsd present`` against a daemon whose answer lines it cannot use: one line, exit 1.

A tiny stand-in daemon on a Unix socket reads the hook's request and answers with the
given lines; the hook is the real ``ddnsd`` process.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from daemon_support import run

FQDN = "_acme-challenge.example.test."


class FakeDaemon:
    """Listens on ``path``; answers each hook's request line with ``lines``."""

    def __init__(self, path: Path, lines: list[bytes]) -> None:
        self.path = path
        self.lines = lines
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn, contextlib.suppress(OSError):  # a hook that gave up may close first
            conn.settimeout(10)
            self.requests.append(conn.makefile("rb").readline())
            for line in self.lines:
                conn.sendall(line)
            conn.shutdown(socket.SHUT_WR)
            conn.recv(1)  # until the hook closes: it reads everything first

    def close(self) -> None:
        self.sock.close()
        self.thread.join(10)


def present(tmp_path: Path, lines: list[bytes]) -> tuple[FakeDaemon, Any]:
    """``ddnsd present`` with a config that points at a stand-in daemon answering ``lines``."""
    config = tmp_path / "ddnsd.toml"
    config.write_text(f'[http]\nsocket = "{tmp_path / "daemon.sock"}"\n')
    daemon = FakeDaemon(tmp_path / "daemon.sock", lines)
    try:
        proc = run(["-c", str(config), "present", FQDN, "value"], timeout=60)
    finally:
        daemon.close()
    assert b'"command":"present"' in daemon.requests[0]
    return daemon, proc


@pytest.mark.parametrize(
    ("timeout", "shown"),
    [
        ('"soon"', "'soon'"),
        ('"NaN"', "'NaN'"),
        ("NaN", "nan"),
        ("Infinity", "inf"),
        ("-1", "-1"),
        ("true", "True"),
        ("1e308", "1e+308"),
    ],
)
def test_an_accepted_line_without_a_usable_timeout_is_one_line(
    tmp_path: Path, timeout: str, shown: str
) -> None:
    accepted = b'{"accepted":{"v":1,"timeout":' + timeout.encode() + b"}}\n"
    daemon, proc = present(tmp_path, [accepted, b'{"result":{"exit":0,"lines":[]}}\n'])
    assert proc.returncode == 1
    assert proc.stderr == (
        f"ddnsd: the daemon at {daemon.path} sent a line this hook cannot read "
        f"(the timeout {shown} is not a number of seconds)\n"
    )


def test_an_accepted_line_with_a_timeout_goes_on_to_the_result(tmp_path: Path) -> None:
    accepted = b'{"accepted":{"v":1,"timeout":90}}\n'
    _, proc = present(tmp_path, [accepted, b'{"result":{"exit":3,"lines":["ddnsd: done"]}}\n'])
    assert (proc.returncode, proc.stderr) == (3, "ddnsd: done\n")
