"""The request budget across real processes (``ddnsd run``, ``ddnsd once``, ``ddnsd present``)
sharing one state dir, against the emulator over sockets: what reached TransIP and when
(the emulator's log with arrival times), what ended up in the zones."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from daemon_support import (
    DaemonProcess,
    free_port,
    http_get,
    run,
    wait_for,
    write_config,
)

from ddnsd.model import DnsEntry

V1, V2 = "203.0.113.1", "203.0.113.2"
DNS = "/v6/domains/{domain}/dns"
CHALLENGE = "_acme-challenge.example.test"


def log(emulator: Any) -> list[dict[str, Any]]:
    return list(requests.get(emulator.base_url + "/_emulator/log", timeout=5).json()["requests"])


def records(domains: list[str], names: list[str]) -> str:
    return "".join(
        f'[[records]]\ndomain = "{d}"\nname = "{n}"\ntype = "A"\n\n' for d in domains for n in names
    )


def configure(
    tmp_path: Path,
    emulator: Any,
    address: str,
    domains: list[str] | None = None,
    names: list[str] | None = None,
    **kw: Any,
) -> tuple[Path, Path]:
    """An address file holding ``address`` and a config with ``names`` in ``domains``
    (default: home.example.test); ``kw`` go to ``write_config``."""
    addr = tmp_path / "address"
    addr.write_text(address + "\n")
    if domains is not None:
        kw["records"] = records(domains, names or ["home"])
    return write_config(tmp_path / "c.toml", emulator, address_file=addr, **kw), addr


def holding(emulator: Any, domains: list[str], names: list[str], content: str) -> int:
    zones = emulator.state()["domains"]
    return sum(
        1
        for d in domains
        for e in zones[d]
        if e["name"] in names and e["type"] == "A" and e["content"] == content
    )


def txt(emulator: Any) -> list[str]:
    return [
        e.content for e in emulator.entries("example.test") if e.type == "TXT" and "acme" in e.name
    ]


def metric(text: str, name: str, labels: str) -> float:
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "socket",
    ['socket = ""', ""],
    ids=["hook-in-its-own-process", "hook-handed-to-the-daemon"],
)
def test_after_a_429_nothing_is_sent_until_the_reset_then_work_converges(
    emulator: Any, tmp_path: Path, daemons: list[DaemonProcess], socket: str
) -> None:
    domains, names = ["example.test", "other.test"], ["@", "home"]
    for d in domains:
        for n in names:
            emulator.seed_entry(d, DnsEntry(n, 300, "A", V1))
    cfg, _ = configure(
        tmp_path,
        emulator,
        V2,
        domains,
        names,
        extra='[acme]\nzones = ["example.test", "other.test"]\npoll_interval = "0.2s"\n',
        interval="1h",  # only the deferral brings the next round: it is set for the reset
    )
    cfg.write_text(cfg.read_text().replace("[http]\n", f"[http]\n{socket}\n", 1))
    emulator.script_faults([{"kind": "ratelimit", "method": "PATCH", "path": DNS, "reset": 4}])
    daemon = DaemonProcess(cfg)
    daemons.append(daemon)
    wait_for(lambda: any(r["status"] == 429 for r in log(emulator)), what="the 429")
    silenced_at = next(r["at"] for r in log(emulator) if r["status"] == 429)

    hook = run(["-c", str(cfg), "present", CHALLENGE, "v" * 43])  # while silenced: waits

    assert hook.returncode == 0, hook.stderr
    assert "waiting" in hook.stderr and "rate limit" in hook.stderr
    assert txt(emulator) == ["v" * 43]
    wait_for(lambda: holding(emulator, domains, names, V2) == 4, what="convergence")
    after = [r for r in log(emulator) if r["at"] > silenced_at]
    assert after, "work resumed"
    assert min(r["at"] for r in after) >= silenced_at + 4  # not one request before the reset
    assert [r["status"] for r in log(emulator)].count(429) == 1
    # the circuit's warning: once, not once per record (nor again for the hook's work)
    assert daemon.log.count("no ddnsd process sends to it until") == 1
    assert "deferred until" in daemon.log


@pytest.mark.timeout(120)
def test_acme_gets_its_reserve_while_ddns_is_deferred(
    emulator_factory: Any, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    emulator = emulator_factory(rate_limit=20)  # 18 for DDNS, 2 kept for ACME
    domains, names = ["example.test", "other.test"], [f"r{i}" for i in range(10)]
    port = free_port()
    cfg, _ = configure(
        tmp_path,
        emulator,
        V1,
        domains,
        names,
        http_port=port,
        extra='[acme]\nzones = ["example.test"]\npoll_interval = "0.2s"\n',
    )
    daemon = DaemonProcess(cfg)
    daemons.append(daemon)
    # /auth, then example.test (GET + 10 POST); other.test (11 more) does not fit: deferred
    wait_for(lambda: "deferred until" in daemon.log, what="the deferral")
    assert holding(emulator, ["example.test"], names, V1) == 10
    assert holding(emulator, ["other.test"], names, V1) == 0

    hook = run(["-c", str(cfg), "present", CHALLENGE, "r" * 43])

    assert hook.returncode == 0, hook.stderr
    assert txt(emulator) == ["r" * 43]
    assert all(r["status"] != 429 for r in log(emulator))
    assert holding(emulator, ["other.test"], names, V1) == 0  # DDNS still waits
    ready = http_get(f"http://127.0.0.1:{port}/readyz")
    assert ready.status_code == 200
    assert "10 record(s) deferred by TransIP's rate limit" in ready.text
    text = http_get(f"http://127.0.0.1:{port}/metrics").text
    assert metric(text, "ddnsd_api_deferred_total", 'kind="ddns"') >= 1
    deferred = 'outcome="deferred",record="r0.other.test/A"'
    assert metric(text, "ddnsd_record_outcomes_total", deferred) >= 1


def test_twelve_once_runs_in_sync_cost_at_most_one_request_and_one_token(
    emulator: Any, tmp_path: Path
) -> None:
    emulator.seed_entry("example.test", DnsEntry("home", 300, "A", V1))
    cfg, _ = configure(tmp_path, emulator, V1)
    for _ in range(12):
        out = run(["-c", str(cfg), "once"])
        assert out.returncode == 0, out.stderr
        assert "noop" in out.stdout
    # at most one read-back (at example.test's point in the hour) and the token it needs
    assert emulator.request_count() - emulator.request_count("POST", "/v6/auth") <= 1
    assert emulator.request_count("POST", "/v6/auth") <= 1


def test_once_exits_3_naming_the_deferred_records(emulator: Any, tmp_path: Path) -> None:
    domains, names = ["example.test", "other.test"], ["home"]
    for d in domains:
        emulator.seed_entry(d, DnsEntry("home", 300, "A", V1))
    cfg, _ = configure(tmp_path, emulator, V2, domains, names)
    emulator.script_faults([{"kind": "ratelimit", "method": "PATCH", "reset": 600}])

    out = run(["-c", str(cfg), "once"])

    assert out.returncode == 3, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("ddnsd: ")]
    assert len(lines) == 1
    assert re.fullmatch(
        r"ddnsd: 2 record\(s\) deferred until \d\d:\d\d:\d\d \(in 60\d s\): TransIP's rate limit "
        r"for login 'demo' \(shared by every ddnsd process\); run again after that",
        lines[0],
    ), lines[0]
    assert "deferred" in out.stdout
    again = run(["-c", str(cfg), "once"])  # a cron run meanwhile sends nothing
    assert again.returncode == 3
    assert [r["status"] for r in log(emulator)] == [201, 429]


@pytest.mark.slow(70)
@pytest.mark.timeout(240)
def test_300_domains_converge_within_the_rate_limit(
    emulator_factory: Any, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    domains = [f"d{i:03d}.test" for i in range(300)]
    names = ["@", "home"]
    emulator = emulator_factory(domains=domains, rate_limit=100, rate_limit_window=10)
    for d in domains:
        for n in names:
            emulator.emulator.store.seed(d, DnsEntry(n, 300, "A", V1))
    port = free_port()
    cfg, addr = configure(tmp_path, emulator, V1, domains, names, http_port=port)
    cfg.write_text(
        cfg.read_text().replace("[transip]\n", '[transip]\nrate_limit_window = "10s"\n', 1)
    )
    daemon = DaemonProcess(cfg)
    daemons.append(daemon)
    wait_for(lambda: 'rounds_total{result="ok"}' in _metrics(port), what="a round in sync")
    start = len(log(emulator))

    addr.write_text(V2 + "\n")
    wait_for(lambda: holding(emulator, domains, names, V2) == 600, timeout=200, what="convergence")

    sent = log(emulator)[start:]
    assert [r for r in sent if r["status"] == 429] == []
    assert len(sent) <= 1.05 * 600 + 2
    assert holding(emulator, domains, names, V1) == 0
    assert daemon.proc.poll() is None


def _metrics(port: int) -> str:
    try:
        return http_get(f"http://127.0.0.1:{port}/metrics").text
    except OSError:
        return ""


def test_a_hook_fails_with_the_deferral_when_the_reset_is_beyond_its_timeout(
    emulator: Any, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        emulator,
        records="",
        extra='[acme]\nzones = ["example.test"]\npropagation_timeout = "10s"\n',
    )
    emulator.script_faults([{"kind": "ratelimit", "method": "POST", "path": DNS, "reset": 60}])

    first = run(["-c", str(cfg), "present", CHALLENGE, "f" * 43])
    second = run(["-c", str(cfg), "present", CHALLENGE, "g" * 43])

    assert (first.returncode, second.returncode) == (1, 1)
    assert (
        first.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"ddnsd: present {CHALLENGE} failed: TransIP POST /domains/example.test/dns: 429 Rate "
            "limit of 1000 requests per 15 minutes exceeded"
        )
    )
    assert re.search(
        rf"ddnsd: present {CHALLENGE} failed: no request sent to TransIP for acme work until "
        r"\d\d:\d\d:\d\d \(in \d+ s\): TransIP answered 429",
        second.stderr,
    ), second.stderr
    assert txt(emulator) == []
    assert [(r["method"], r["status"]) for r in log(emulator)] == [("POST", 201), ("POST", 429)]
