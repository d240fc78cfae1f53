"""Helpers for tests that run the real ``ddnsd`` command against the emulator."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

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


def run(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")}
    full_env.update(env or {})
    return subprocess.run(
        DDNSD + args, capture_output=True, text=True, timeout=timeout, env=full_env, check=False
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

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = config.parent / "daemon.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")}
        full_env.update(env or {})
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [*DDNSD, "-c", str(config), "run"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

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
