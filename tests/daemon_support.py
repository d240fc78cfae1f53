"""Helpers for tests that run the real ``ddnsd`` command against the emulator."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from ddnsd.statedir import StateDir

DDNSD = [sys.executable, "-m", "ddnsd"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    path: Path,
    emulator: Any,
    *,
    address_file: Path | None = None,
    records: str | None = None,
    extra: str = "",
    interval: str = "1s",
    http_port: int | None = None,
    state_dir: Path | None = None,
    detect: str | None = None,
) -> Path:
    """A config for login demo at ``emulator``, one A record home.example.test."""
    records = (
        records
        if records is not None
        else '[[records]]\ndomain = "example.test"\nname = "home"\ntype = "A"\nttl = 300\n'
    )
    if detect is None:
        detect = (
            f'[detect]\nipv4 = ["file:{address_file}"]\nagree = 1\nallow_private = true\n'
            if address_file is not None
            else ""
        )
    listen = f"127.0.0.1:{http_port}" if http_port else ""
    path.write_text(
        f"""
[transip]
login = "demo"
private_key_file = "{emulator.private_key_path}"
api_url = "{emulator.api_url}"

{records}

{detect}

[schedule]
interval = "{interval}"
verify = "1h"
jitter = "0.1s"

[dns]
nameservers = ["{emulator.dns_server}"]

[http]
listen = "{listen}"

[state]
dir = "{state_dir or path.parent / "state"}"

{extra}
"""
    )
    return path


def address_config(tmp_path: Path, emulator: Any, address: str, **kw: Any) -> tuple[Path, Path]:
    """(address file holding ``address``, config of :func:`write_config` reading it)."""
    addr = tmp_path / "address"
    addr.write_text(address + "\n")
    return addr, write_config(tmp_path / "c.toml", emulator, address_file=addr, **kw)


def run(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    prefix: list[str] | None = None,
) -> Any:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")}
    full_env.update(env or {})
    return subprocess.run(
        [*(prefix or []), *DDNSD, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``pred`` until truthy (a bounded wait, not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class DaemonProcess:
    """``ddnsd -c CONFIG run`` as a child process; its output goes to a log file."""

    def __init__(
        self, config: Path, env: dict[str, str] | None = None, *, prefix: list[str] | None = None
    ) -> None:
        """``prefix`` runs it through another program (``setpriv`` … ``--``: another user)."""
        self.config = config
        self.log_path = config.parent / "daemon.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")}
        full_env.update(env or {})
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [*(prefix or []), *DDNSD, "-c", str(config), "run"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_socket(self, path: Path) -> Path:
        """Wait until the daemon listens on its hook socket ``path`` (fail if it exits)."""

        def listening() -> bool:
            assert self.proc.poll() is None, f"ddnsd run exited:\n{self.log}"
            return path.is_socket() and f"hooks: {path}" in self.log

        wait_for(listening, what=f"the daemon to listen on {path}")
        return path

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)


def http_get(url: str) -> requests.Response:
    return requests.get(url, timeout=5)


class DualStackServer(ThreadingHTTPServer):
    """An HTTP server on ``::`` that IPv4 clients reach too (as ``::ffff:a.b.c.d``)."""

    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def text_reply(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    """Answer ``handler``'s request with a text/plain body."""
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def challenge_service(emulator: Any, state_dir: Path, **overrides: Any) -> Any:
    """The real ChallengeService for example.test on ``emulator``, polling its DNS quickly."""
    from ddnsd.acme.service import ChallengeService
    from ddnsd.transip.budget import ACME
    from ddnsd.transip.client import make_client

    client = make_client(
        emulator.api_url,
        emulator.login,
        emulator.private_key_path,
        cache_dir=state_dir,
        kind=ACME,
    )
    settings: dict[str, Any] = {
        "zones": ["example.test"],
        "nameservers": [emulator.dns_server],
        "poll_interval": 0.05,
        "propagation_timeout": 30,
    }
    settings.update(overrides)
    return ChallengeService(client, state=StateDir(state_dir), **settings)
