"""``ddnsd demo`` (what ``make demo`` runs): the real daemon against the embedded emulator.

Starts the emulator on free loopback ports, makes a throw-away key, runs ``ddnsd run`` as
a child process with a ``file:`` address source, changes the address a few times and
shows, for each change: what was detected, the API calls the daemon made, and the record
as the emulator's authoritative DNS serves it. Then a quiet period proves that rounds
cost no API calls while nothing changes. Nothing leaves this machine. The daemon's
status page is at the printed URL while the demo runs; ``--screenshot FILE`` saves it
as PNG with headless Chromium (``make screenshot`` → docs/status.png).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ddnsd import outbound

DOMAIN = "example.test"
NAME = "home"
ADDRESSES = ["203.0.113.10", "203.0.113.77", "198.51.100.42", "192.0.2.99"]


def _get(url: str) -> Any:
    _, body = outbound.get(url, timeout=5, max_body=16 * 1024 * 1024)
    return json.loads(body)


def _counts(base_url: str) -> Counter[str]:
    stats = _get(f"{base_url}/_emulator/stats")
    out: Counter[str] = Counter()
    for row in stats.get("requests", []):
        if str(row["path"]).startswith("/v6"):
            out[f"{row['method']} {row['path']} {row['status']}"] += int(row["count"])
    return out


def _call_order(item: tuple[str, int]) -> tuple[int, str]:
    """auth first, then reads, then writes: the order a round makes them."""
    call = item[0]
    rank = next(
        (i for i, m in enumerate(("POST /v6/auth", "GET", "POST", "PATCH")) if call.startswith(m)),
        9,
    )
    return rank, call


def _dns(host: str, port: int) -> list[str]:
    from ddnsd.authdns import Nameserver, query

    try:
        return query(Nameserver("emulator", host, port), f"{NAME}.{DOMAIN}", "A", timeout=1.0)
    except Exception:  # the demo just shows what it sees
        return []


def _wait(pred: Any, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(0.1)
    return None


#: Headless Chromium as it works here: no sandbox (root), no GPU, no background traffic.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_command(url: str, profile: Path, *args: str) -> list[str]:
    """Debian's ``chromium`` headless on ``url`` with a fresh profile dir and ``args``
    (``--dump-dom``, ``--screenshot=FILE``, ``--window-size=W,H``)."""
    return ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url]


def screenshot(url: str, out: Path, size: str = "1000,1250") -> str | None:
    """Save ``url`` as PNG at ``out``; None when done, else why not (one sentence)."""
    out = out.absolute()
    with tempfile.TemporaryDirectory(prefix="ddnsd-chromium-") as profile:
        cmd = chromium_command(url, Path(profile), f"--screenshot={out}", f"--window-size={size}")
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"chromium did not run ({exc}); `make tools` installs it"
    if done.returncode != 0 or not out.is_file():
        return f"chromium exited with {done.returncode}: {done.stderr.strip()[-300:]}"
    return None


def run_demo(changes: int = 3, screenshot_to: Path | None = None) -> int:
    from ddnsd.emulator.keys import write_keypair
    from ddnsd.emulator.server import Emulator, EmulatorConfig

    changes = max(1, min(changes, len(ADDRESSES)))
    work = Path(tempfile.mkdtemp(prefix="ddnsd-demo-"))
    keys = write_keypair(work)
    key_file, public_pem = keys.private_key_path, keys.public_pem
    import logging

    logging.getLogger("ddnsd.emulator").setLevel(logging.WARNING)  # the narration says it all
    emu = Emulator(EmulatorConfig(users={"demo": public_pem}, domains=[DOMAIN]))
    emu.start()
    dns_host, dns_port = emu.dns_address
    address_file = work / "address"
    address_file.write_text(ADDRESSES[0] + "\n")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    config = work / "config.toml"
    config.write_text(
        f"""# written by ddnsd demo
[transip]
login = "demo"
private_key_file = "{key_file}"
api_url = "{emu.api_url}"

[[records]]
domain = "{DOMAIN}"
name = "{NAME}"
type = "A"
ttl = 300

[detect]
ipv4 = ["file:{address_file}"]
agree = 1
allow_private = true   # the demo uses documentation addresses (203.0.113.0/24 …)

[schedule]
interval = "2s"
verify = "1h"
jitter = "0.2s"

[dns]
nameservers = ["{dns_host}:{dns_port}"]

[http]
listen = "127.0.0.1:{http_port}"

[state]
dir = "{work / "state"}"
"""
    )
    log_file = work / "ddnsd.log"
    print("ddnsd demo — everything runs on this machine; nothing reaches TransIP.\n")
    print(f"  emulator API   {emu.api_url}  (login demo, throw-away key {key_file})")
    print(f"  emulator DNS   {dns_host}:{dns_port} (udp+tcp)")
    print(f"  daemon         {sys.executable} -m ddnsd -c {config} run")
    print(f"  daemon log     {log_file}")
    print(f"  status page    http://127.0.0.1:{http_port}/  (also ddnsd -c {config} status)")
    print(f"  metrics        http://127.0.0.1:{http_port}/metrics")
    print(f"  address file   {address_file}  (the file: source the daemon reads)\n")
    sys.stdout.flush()
    env = dict(os.environ)
    env.pop("DDNSD_CONFIG", None)
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ddnsd", "-c", str(config), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        before = _counts(emu.base_url)
        for i, address in enumerate(ADDRESSES[:changes], start=1):
            if i > 1:
                address_file.write_text(address + "\n")
            print(f"[{i}] the address source now says {address}")
            took = _wait(lambda a=address: _dns(dns_host, dns_port) == [a], 30)
            if proc.poll() is not None:
                print(f"    the daemon exited with {proc.returncode}; see {log_file}")
                return 1
            after = _counts(emu.base_url)
            calls = after - before
            before = after
            for call, n in sorted(calls.items(), key=_call_order):
                print(f"    API  {call}" + (f"  x{n}" if n > 1 else ""))
            served = _dns(dns_host, dns_port)
            if took is None:
                print(f"    DNS  {NAME}.{DOMAIN} still serves {served} after 30 s")
                return 1
            print(f"    DNS  {NAME}.{DOMAIN}. 300 IN A {served[0]}   (visible after {took:.1f} s)")
            sys.stdout.flush()
        quiet = 6.0
        print(f"\nquiet period: nothing changes for {quiet:.0f} s (rounds every 2 s)")
        sys.stdout.flush()
        time.sleep(quiet)
        calls = _counts(emu.base_url) - before
        total = sum(calls.values())
        print(
            f"    API calls meanwhile: {total}"
            + ("  (each round asked the zone's nameserver instead)" if total == 0 else "")
        )
        state = _get(f"{emu.base_url}/_emulator/state")["domains"][DOMAIN]
        print(f"\nzone {DOMAIN} at the emulator now:")
        for e in state:
            print(f"    {e['name']:<8} {e['expire']:>6} {e['type']:<5} {e['content']}")
        print(f"\nmetrics at http://127.0.0.1:{http_port}/metrics, e.g.:")
        try:
            _, body = outbound.get(
                f"http://127.0.0.1:{http_port}/metrics", timeout=5, max_body=1024 * 1024
            )
            for line in body.decode().splitlines():
                if line.startswith(("ddnsd_record_in_sync", "ddnsd_api_requests_total")):
                    print(f"    {line}")
        except outbound.NoAnswer as exc:
            print(f"    (metrics not reachable: {exc})")
        if screenshot_to is not None:
            problem = screenshot(f"http://127.0.0.1:{http_port}/", screenshot_to)
            if problem is not None:
                print(f"\nno screenshot: {problem}")
                return 1
            print(f"\nstatus page saved as {screenshot_to}")
        print(f"\ndone. Files are in {work}.")
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        emu.stop()
