"""iface: detection and the netlink AddressWatcher inside a network namespace made here.

Each test creates ``ddnsd-t-<random>``, sets addresses up with ``ip``, and runs a small
Python program inside it (``ip netns exec``) so the kernel it talks to is the
namespace's. Skipped only when not root or namespaces are impossible, and never when
``CI=true`` (then it fails).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

pytestmark = pytest.mark.netns

REPO = Path(__file__).resolve().parents[2]


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"network namespace test cannot run under CI=true: {why}")
    pytest.skip(why)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        _unavailable("needs root to create network namespaces")
    if shutil.which("ip") is None:
        _unavailable("needs iproute2 (ip)")
    name = f"ddnsd-t-{secrets.token_hex(4)}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        _unavailable(f"ip netns add failed: {made.stderr.strip()}")
    try:
        ip(name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def ip(ns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True, text=True)


def in_netns(ns: str, code: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment to run Python ``code`` inside namespace ``ns``."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return ["ip", "netns", "exec", ns, sys.executable, "-c", textwrap.dedent(code)], env


def run_in_netns(ns: str, code: str) -> Any:
    argv, env = in_netns(ns, code)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


DETECT = """
    import json
    from ddnsd.detect.base import Family, SourceFailed
    from ddnsd.detect.sources import make_detector
    from ddnsd.detect.spec import parse_source
    out = {}
    for source, lab in [("iface:lo", True), ("iface:v0", True), ("iface:lo", False)]:
        for fam in (Family.V4, Family.V6):
            try:
                got = make_detector(parse_source(source), allow_private=lab).detect(fam)
            except SourceFailed as exc:
                got = "error: " + exc.reason
            out[f"{source}/{fam.label}/{'lab' if lab else 'strict'}"] = got
    print(json.dumps(out))
"""


def test_iface_source_picks_the_global_address_and_skips_the_rest(netns: str) -> None:
    ip(netns, "addr", "add", "203.0.113.7/32", "dev", "lo")
    ip(netns, "-6", "addr", "add", "2001:db8:2::1/64", "dev", "lo")
    # added last, so listed first by the kernel: must be skipped as deprecated
    ip(netns, "-6", "addr", "add", "2001:db8:1::d/64", "dev", "lo", "preferred_lft", "0")
    # a veth whose peer is down: its IPv6 address stays tentative (DAD cannot finish)
    ip(netns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip(netns, "link", "set", "v0", "up")
    ip(netns, "addr", "add", "198.51.100.5/24", "dev", "v0")
    ip(netns, "-6", "addr", "add", "2001:db8:3::5/64", "dev", "v0")

    got = run_in_netns(netns, DETECT)

    assert got["iface:lo/IPv4/lab"] == "203.0.113.7"
    assert got["iface:lo/IPv6/lab"] == "2001:db8:2::1"
    assert got["iface:v0/IPv4/lab"] == "198.51.100.5"
    assert got["iface:v0/IPv6/lab"].startswith("error: v0 has no global IPv6 address (skipped:")
    assert "2001:db8:3::5 tentative" in got["iface:v0/IPv6/lab"]
    assert got["iface:lo/IPv4/strict"] == (
        "error: lo has no global IPv4 address (skipped: 127.0.0.1 host scope; "
        "203.0.113.7 in the documentation range 203.0.113.0/24)"
    )
    assert "2001:db8:1::d deprecated" in got["iface:lo/IPv6/strict"]
    assert "::1 host scope" in got["iface:lo/IPv6/strict"]


WATCH = """
    import logging, sys
    from ddnsd.detect.netlink import AddressWatcher
    from ddnsd.detect.base import Family, SourceFailed
    from ddnsd.detect.sources import make_detector
    from ddnsd.detect.spec import parse_source
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="log: %(message)s")
    detector = make_detector(parse_source("iface:lo"), allow_private=True)
    fired = 0
    def on_change():
        global fired
        fired += 1
        try:
            seen = detector.detect(Family.V4)
        except SourceFailed as exc:
            seen = "none"
        print(f"fired {fired}: {seen}", flush=True)
    watcher = AddressWatcher(on_change, {"lo"})
    watcher.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes stdin
    watcher.stop()
    print("stopped", flush=True)
"""


class Lines:
    """Lines of a child's stdout, readable with a timeout (no timing assertions)."""

    def __init__(self, stream: IO[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def until(self, prefix: str, timeout: float = 20.0) -> str:
        while True:
            try:
                line = self.queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line starting {prefix!r}; got {self.seen}") from None
            if line is None:
                raise AssertionError(f"exited before {prefix!r}; got {self.seen}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line


def test_watcher_fires_on_address_changes_of_watched_interfaces(netns: str) -> None:
    ip(netns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    argv, env = in_netns(netns, WATCH)
    child = subprocess.Popen(
        argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        lines = Lines(child.stdout)
        lines.until("ready")
        # a change on an unwatched interface first, then on lo
        ip(netns, "addr", "add", "198.51.100.5/24", "dev", "v0")
        ip(netns, "addr", "add", "203.0.113.9/32", "dev", "lo")
        assert lines.until("fired") == "fired 1: 203.0.113.9"
        ip(netns, "addr", "del", "203.0.113.9/32", "dev", "lo")
        assert lines.until("fired") == "fired 2: none"
        child.stdin.close()
        lines.until("stopped")
    finally:
        child.kill()
        child.wait(timeout=10)
    logged = [line for line in lines.seen if line.startswith("log: address change")]
    assert logged == [
        "log: address change on lo (new 203.0.113.9)",
        "log: address change on lo (removed 203.0.113.9)",
    ]
