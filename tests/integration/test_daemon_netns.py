"""Event-driven updates: in a network namespace made by the test, with a one-hour interval,
an address change on an interface leads to a PATCH — the netlink event, not the timer,
drove it. Runs the emulator and the daemon inside the namespace (its own loopback).

Skipped only where network namespaces are impossible (not root, no ``ip``), never when
``CI=true``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_support import wait_for

pytestmark = pytest.mark.netns


def _netns_possible() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs iproute2 (ip)"
    return None


@pytest.fixture
def netns() -> Iterator[str]:
    why = _netns_possible()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"network namespace test cannot run under CI: {why}")
        pytest.skip(why)
    name = f"ddnsd-t-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _ip(ns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", ns, *args], check=True)


def _home(state_file: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [e for e in data["domains"]["example.test"] if e["name"] == "home" and e["type"] == "A"]


def test_interface_event_drives_the_update(netns: str, tmp_path: Path, rsa_keypair: Any) -> None:
    state_file = tmp_path / "zones.json"
    _ip(netns, "addr", "add", "203.0.113.7/32", "dev", "lo")
    inside = ["ip", "netns", "exec", netns, sys.executable, "-m"]
    emu_log = (tmp_path / "emulator.log").open("wb")
    emulator = subprocess.Popen(
        [
            *inside,
            "ddnsd.emulator",
            "--listen",
            "127.0.0.1:8780",
            "--dns-listen",
            "127.0.0.1:8053",
            "--login",
            "demo",
            "--public-key",
            str(rsa_keypair.public_key_path),
            "--domain",
            "example.test",
            "--state",
            str(state_file),
        ],
        stdout=emu_log,
        stderr=subprocess.STDOUT,
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"""
[transip]
login = "demo"
private_key_file = "{rsa_keypair.private_key_path}"
api_url = "http://127.0.0.1:8780/v6"

[[records]]
domain = "example.test"
name = "home"
type = "A"

[detect]
ipv4 = ["iface:lo"]
agree = 1
allow_private = true

[schedule]
interval = "1h"
verify = "1h"

[dns]
nameservers = ["127.0.0.1:8053"]

[http]
listen = ""

[state]
dir = "{tmp_path / "state"}"
"""
    )
    daemon_log_path = tmp_path / "daemon.log"
    daemon_log = daemon_log_path.open("wb")
    daemon = None
    try:
        wait_for(lambda: b"DNS" in (tmp_path / "emulator.log").read_bytes(), what="emulator")
        daemon = subprocess.Popen(
            [*inside, "ddnsd", "-c", str(cfg), "run"], stdout=daemon_log, stderr=subprocess.STDOUT
        )
        wait_for(
            lambda: [e["content"] for e in _home(state_file)] == ["203.0.113.7"],
            what="the first round's POST",
        )
        # Swap the address in one go; only a netlink event can start the next round now.
        subprocess.run(
            f"ip -n {netns} addr add 203.0.113.8/32 dev lo && "
            f"ip -n {netns} addr del 203.0.113.7/32 dev lo",
            shell=True,
            check=True,
        )
        wait_for(
            lambda: [e["content"] for e in _home(state_file)] == ["203.0.113.8"],
            timeout=30,
            what="the event-driven PATCH",
        )
        # The emulator's state file can be written before the daemon logs the write.
        wait_for(lambda: "PATCH" in daemon_log_path.read_text(), what="the PATCH log line")
        assert "address change" in daemon_log_path.read_text()
    finally:
        for proc in (daemon, emulator):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        emu_log.close()
        daemon_log.close()
