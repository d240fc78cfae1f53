"""DDNS benchmarks: API cost while nothing changes, change→PATCH latency, RSS over rounds.

Run: ``make bench`` (or ``.venv/bin/python -m bench ddns``; ``-m bench ddns-rss`` for the
memory table alone: RSS after 1 … 20,000 rounds). Prints markdown tables; every
figure has a baseline measured in the same run. Talks only to loopback and to a network
namespace it creates (the netlink row needs root and ``ip``; it says so when skipped).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ddnsd.emulator.keys import KeyPair, write_keypair
from ddnsd.emulator.server import Emulator, EmulatorConfig
from ddnsd.model import RecordSpec
from ddnsd.reconcile.engine import Engine
from ddnsd.transip.budget import DDNS
from ddnsd.transip.client import make_client

PY = sys.executable


def _v6_requests(emu_base: str, path: str | None = None) -> int:
    with urllib.request.urlopen(f"{emu_base}/_emulator/stats", timeout=5) as r:
        stats = json.loads(r.read())
    return sum(
        row["count"]
        for row in stats["requests"]
        if row["path"].startswith("/v6") and path in (None, row["path"])
    )


def _home(emu_base: str) -> list[str]:
    with urllib.request.urlopen(f"{emu_base}/_emulator/state", timeout=5) as r:
        zone = json.loads(r.read())["domains"]["example.test"]
    return [e["content"] for e in zone if e["name"] == "home" and e["type"] == "A"]


# --------------------------------------------------------------------------- 1: API cost


def api_cost(keys: KeyPair, hours: int = 24) -> list[tuple[str, float, str]]:
    """Requests per hour at interval 5m, verify 1h, on a simulated clock (24 h of rounds).

    The token schedule is on the same clock: a token is fetched only when a request is
    about to be sent, so ``/auth`` is counted as it happens.
    """
    emu = Emulator(EmulatorConfig(users={"bench": keys.public_pem}, domains=["example.test"]))
    emu.start()
    try:
        now = [0.0]
        client = make_client(
            emu.api_url, "bench", keys.private_key_path, clock=lambda: now[0], kind=DDNS
        )
        spec = RecordSpec("example.test", "home", "A", 300)
        host, port = emu.dns_address
        engine = Engine(
            client,
            [spec],
            nameservers=[f"{host}:{port}"],
            propagation_grace=600,
            verify_interval=3600,
            clock=lambda: now[0],
        )
        engine.run_round({"A": "203.0.113.1"})  # first write
        start, auths = _v6_requests(emu.base_url), _v6_requests(emu.base_url, "/v6/auth")
        rounds = hours * 12
        for _ in range(rounds):
            now[0] += 300
            engine.run_round({"A": "203.0.113.1"})
        auth_per_hour = (_v6_requests(emu.base_url, "/v6/auth") - auths) / hours
        ddnsd_per_hour = (_v6_requests(emu.base_url) - start) / hours - auth_per_hour
        # Baseline in the same run: a naive updater that GETs the zone every round.
        start = _v6_requests(emu.base_url)
        for _ in range(12):
            client.list_dns_entries("example.test")
        naive_per_hour = float(_v6_requests(emu.base_url) - start)
    finally:
        emu.stop()
    return [
        ("naive: GET the zone every round (baseline)", naive_per_hour, "12 rounds/h x 1 GET"),
        ("ddnsd: DNS drift check, API read-back each verify", ddnsd_per_hour, f"{rounds} rounds"),
        ("ddnsd: tokens (/auth only before a request)", auth_per_hour, f"{rounds} rounds"),
    ]


# --------------------------------------------------------------------------- 2: latency


def _config(work: Path, keys: KeyPair, api: str, dns: str, detect: str, interval: str) -> Path:
    cfg = work / "config.toml"
    cfg.write_text(
        f"""
[transip]
login = "bench"
private_key_file = "{keys.private_key_path}"
api_url = "{api}"
[[records]]
domain = "example.test"
name = "home"
type = "A"
{detect}
[schedule]
interval = "{interval}"
verify = "1h"
jitter = "0.001s"
[dns]
nameservers = ["{dns}"]
[http]
listen = ""
[state]
dir = "{work / "state"}"
"""
    )
    return cfg


def _timed_change(change: Callable[[], None], seen: Callable[[], bool], limit: float) -> float:
    t0 = time.monotonic()
    change()
    while not seen():
        if time.monotonic() - t0 > limit:
            return float("nan")
        time.sleep(0.005)
    return time.monotonic() - t0


def latency_file_polling(keys: KeyPair, interval: str, changes: int = 5) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="ddnsd-bench-"))
    emu = Emulator(EmulatorConfig(users={"bench": keys.public_pem}, domains=["example.test"]))
    emu.start()
    addr = work / "address"
    addr.write_text("203.0.113.1\n")
    host, port = emu.dns_address
    detect = f'[detect]\nipv4 = ["file:{addr}"]\nagree = 1\nallow_private = true\n'
    cfg = _config(work, keys, emu.api_url, f"{host}:{port}", detect, interval)
    proc = subprocess.Popen(
        [PY, "-m", "ddnsd", "-c", str(cfg), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out: list[float] = []
    try:
        _wait(lambda: _home(emu.base_url) == ["203.0.113.1"], 30)
        for i in range(changes):
            new = f"203.0.113.{10 + i}"
            out.append(
                _timed_change(
                    lambda n=new: addr.write_text(n + "\n"),  # type: ignore[misc]
                    lambda n=new: _home(emu.base_url) == [n],  # type: ignore[misc]
                    60,
                )
            )
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        emu.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def latency_netlink(keys: KeyPair, changes: int = 5) -> list[float] | str:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "skipped: needs root and iproute2 for a network namespace"
    work = Path(tempfile.mkdtemp(prefix="ddnsd-bench-"))
    ns = f"ddnsd-b-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", ns, "addr", "add", "203.0.113.1/32", "dev", "lo"], check=True)
        state = work / "zones.json"
        inside = ["ip", "netns", "exec", ns, PY, "-m"]
        emu_log = work / "emu.log"
        with emu_log.open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        *inside,
                        "ddnsd.emulator",
                        "--listen",
                        "127.0.0.1:8780",
                        "--dns-listen",
                        "127.0.0.1:8053",
                        "--login",
                        "bench",
                        "--public-key",
                        str(keys.public_key_path),
                        "--domain",
                        "example.test",
                        "--state",
                        str(state),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        _wait(lambda: b"DNS" in emu_log.read_bytes(), 15)
        detect = '[detect]\nipv4 = ["iface:lo"]\nagree = 1\nallow_private = true\n'
        cfg = _config(work, keys, "http://127.0.0.1:8780/v6", "127.0.0.1:8053", detect, "1h")
        procs.append(
            subprocess.Popen(
                [*inside, "ddnsd", "-c", str(cfg), "run"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

        def home() -> list[str]:
            try:
                zone = json.loads(state.read_text())["domains"]["example.test"]
            except (FileNotFoundError, json.JSONDecodeError):
                return []
            return [e["content"] for e in zone if e["name"] == "home" and e["type"] == "A"]

        _wait(lambda: home() == ["203.0.113.1"], 30)
        out: list[float] = []
        old = "203.0.113.1"
        for i in range(changes):
            new = f"203.0.113.{20 + i}"
            cmd = f"ip -n {ns} addr add {new}/32 dev lo && ip -n {ns} addr del {old}/32 dev lo"
            out.append(
                _timed_change(
                    lambda c=cmd: subprocess.run(c, shell=True, check=True),  # type: ignore[misc]
                    lambda n=new: home() == [n],  # type: ignore[misc]
                    60,
                )
            )
            old = new
            time.sleep(0.3)
        return out
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(work, ignore_errors=True)


def _wait(pred: Callable[[], bool], limit: float, step: float = 0.05) -> None:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > limit:
            raise RuntimeError("benchmark set-up timed out")
        time.sleep(step)


# --------------------------------------------------------------------------- 3: RSS


def _rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else -1


def _heap_and_anon_kib(pid: int) -> tuple[int, int]:
    """Resident KiB of the brk heap and of the nameless mappings (CPython's 1 MiB object
    arenas, glibc thread arenas, thread stacks), from ``/proc/PID/smaps``: which of the two
    a growth lands in. (The step of ~1 MiB this table once showed near round 8,000 was the
    interpreter's table of interned strings rebuilt, in the nameless mappings: see
    docs/design.md, "Memory".)"""
    heap = anon = 0
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            name = parts[5] if len(parts) > 5 else ""
        elif parts[:1] == ["Rss:"] and name in ("", "[heap]"):
            if name:
                heap += int(parts[1])
            else:
                anon += int(parts[1])
    return heap, anon


#: Rounds after which the RSS table has a row (the last is the run's length; 20,000 shows
#: whether a growth up to 10,000 levels off).
RSS_ROUNDS = (1, 100, 1_000, 5_000, 10_000, 20_000)


def rss_over_rounds(
    keys: KeyPair, marks: tuple[int, ...] = RSS_ROUNDS
) -> list[tuple[str, int, str]]:
    """``ddnsd run`` (interval 0.01 s, nothing changes) against the emulator: its RSS after
    each of ``marks`` rounds, and a baseline process that only imports requests."""
    work = Path(tempfile.mkdtemp(prefix="ddnsd-bench-"))
    emu = Emulator(EmulatorConfig(users={"bench": keys.public_pem}, domains=["example.test"]))
    emu.start()
    addr = work / "address"
    addr.write_text("203.0.113.1\n")
    host, port = emu.dns_address
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    detect = f'[detect]\nipv4 = ["file:{addr}"]\nagree = 1\nallow_private = true\n'
    cfg = _config(work, keys, emu.api_url, f"{host}:{port}", detect, "0.01s")
    cfg.write_text(cfg.read_text().replace('listen = ""', f'listen = "127.0.0.1:{http_port}"'))
    baseline = subprocess.Popen([PY, "-c", "import requests, time; time.sleep(30)"])
    proc = subprocess.Popen(
        [PY, "-m", "ddnsd", "-c", str(cfg), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def count() -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return 0
        m = re.search(r'^ddnsd_rounds_total\{result="ok"\} (\S+)$', text, re.M)
        return int(float(m.group(1))) if m else 0

    rows: list[tuple[str, int, str]] = []
    try:
        _wait(lambda: count() >= 1, 30)
        time.sleep(0.5)
        rows.append(('python -c "import requests" (baseline)', _rss_kib(baseline.pid), ""))
        for mark in marks:
            # asked twice a second: the asking costs the daemon too (its HTTP threads)
            _wait(lambda m=mark: count() >= m, 3600, step=0.5)  # type: ignore[misc]
            heap, anon = _heap_and_anon_kib(proc.pid)
            where = f"{heap} / {anon}"
            rows.append((f"ddnsd run after round {mark:,}", _rss_kib(proc.pid), where))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        baseline.kill()
        emu.stop()
        shutil.rmtree(work, ignore_errors=True)
    return rows


def print_rss(keys: KeyPair) -> None:
    print("\n## DDNS: resident memory (VmRSS, KiB)\n")
    print("| process | RSS KiB | of it: brk heap / nameless mmaps KiB |\n|---|---:|---:|")
    rows = rss_over_rounds(keys)
    for label, kib, where in rows:
        print(f"| {label} | {kib} | {where} |")
    at = dict(zip(RSS_ROUNDS, (kib for _, kib, _ in rows[1:]), strict=True))
    print(f"\nround 1,000 → 10,000: {at[10_000] - at[1_000]:+} KiB (goal: within 1,024)")
    print(f"round 10,000 → 20,000: {at[20_000] - at[10_000]:+} KiB (does it level off?)")


def rss_main() -> None:
    """``python -m bench ddns-rss``: the RSS section alone (about 4 min)."""
    work = Path(tempfile.mkdtemp(prefix="ddnsd-bench-keys-"))
    try:
        print_rss(write_keypair(work, "bench"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="ddnsd-bench-keys-"))
    keys = write_keypair(work, "bench")
    print("## DDNS: TransIP API requests per hour while nothing changes\n")
    print("| strategy | requests/hour | basis |\n|---|---:|---|")
    for name, per_hour, basis in api_cost(keys):
        print(f"| {name} | {per_hour:.2f} | {basis} |")
    print("\n## DDNS: address change → record updated at the emulator (seconds)\n")
    print("| source | runs | median | min | max |\n|---|---:|---:|---:|---:|")
    for label, vals in (
        ("file: polling, interval 5s (baseline)", latency_file_polling(keys, "5s")),
        ("file: polling, interval 1s", latency_file_polling(keys, "1s")),
        ("iface: netlink event, interval 1h", latency_netlink(keys)),
    ):
        if isinstance(vals, str):
            print(f"| {label} | — | {vals} | | |")
            continue
        good = [v for v in vals if v == v]
        print(
            f"| {label} | {len(vals)} | {statistics.median(good):.3f} | {min(good):.3f} "
            f"| {max(good):.3f} |"
        )
    print_rss(keys)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
