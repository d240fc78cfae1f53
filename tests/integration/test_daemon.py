"""``ddnsd run`` as a real process against the emulator: changes, signals, HTTP, sd_notify."""

from __future__ import annotations

import re
import signal
import socket
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


def home(emulator: Any) -> list[DnsEntry]:
    return [e for e in emulator.entries("example.test") if e.name == "home" and e.type == "A"]


def metric(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else r"(?:\{\})?")
    m = re.search(r"^" + pattern + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def start(daemons: list[DaemonProcess], cfg: Path, **kw: Any) -> DaemonProcess:
    d = DaemonProcess(cfg, **kw)
    daemons.append(d)
    return d


def test_address_change_is_followed(emulator: Any, tmp_path: Path, daemons: Any) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.30\n")
    port = free_port()
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, http_port=port)
    foreign = sorted(map(repr, (e for e in emulator.entries("example.test"))))
    d = start(daemons, cfg)
    wait_for(lambda: [e.content for e in home(emulator)] == ["203.0.113.30"], what="create")
    addr.write_text("203.0.113.31\n")
    wait_for(lambda: [e.content for e in home(emulator)] == ["203.0.113.31"], what="update")
    assert home(emulator) == [DnsEntry("home", 300, "A", "203.0.113.31")]
    # the change went through PATCH of the one entry, not delete + add
    assert emulator.request_count("PATCH", "/v6/domains/{domain}/dns") == 1
    others = sorted(map(repr, (e for e in emulator.entries("example.test") if e.name != "home")))
    assert others == foreign
    assert "203.0.113.31" in d.log
    assert d.stop() == 0


@pytest.mark.slow(7)
def test_no_api_calls_while_nothing_changes(emulator: Any, tmp_path: Path, daemons: Any) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.32\n")
    port = free_port()
    cfg = write_config(
        tmp_path / "c.toml", emulator, address_file=addr, http_port=port, interval="0.3s"
    )
    start(daemons, cfg)
    wait_for(lambda: home(emulator), what="first write")
    url = f"http://127.0.0.1:{port}/metrics"

    def rounds() -> float:
        return metric(http_get(url).text, "ddnsd_rounds_total", 'result="ok"') or 0.0

    wait_for(lambda: rounds() >= 2, what="two rounds")
    before, start_rounds = emulator.request_count(), rounds()
    wait_for(lambda: rounds() >= start_rounds + 20, timeout=60, what="20 more rounds")
    assert emulator.request_count() == before


def test_signals_usr1_hup_term(emulator: Any, tmp_path: Path, daemons: Any) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.40\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, interval="1h")
    d = start(daemons, cfg)
    wait_for(lambda: home(emulator), what="first round")
    # the interval is an hour: only SIGUSR1 can make the next round happen now
    addr.write_text("203.0.113.41\n")
    d.signal(signal.SIGUSR1)
    wait_for(lambda: [e.content for e in home(emulator)] == ["203.0.113.41"], what="USR1")
    # SIGHUP re-reads the config: a record added to it is created
    cfg.write_text(
        cfg.read_text().replace(
            "[[records]]",
            '[[records]]\ndomain = "example.test"\nname = "office"\ntype = "A"\n\n[[records]]',
            1,
        )
    )
    d.signal(signal.SIGHUP)
    wait_for(
        lambda: DnsEntry("office", 300, "A", "203.0.113.41") in emulator.entries("example.test"),
        what="HUP",
    )
    # a broken config on SIGHUP is refused and the daemon keeps running
    cfg.write_text(cfg.read_text().replace('type = "A"', 'type = "B"'))
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in d.log, what="reload refused")
    assert d.proc.poll() is None
    assert d.stop(timeout=10) == 0
    assert "stopped" in d.log


def test_health_ready_and_metrics(emulator: Any, tmp_path: Path, daemons: Any) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.50\n")
    port = free_port()
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, http_port=port)
    start(daemons, cfg)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _ok(base + "/healthz"), what="healthz")
    wait_for(lambda: _ok(base + "/readyz"), what="readyz")
    text = http_get(base + "/metrics").text
    assert metric(text, "ddnsd_record_in_sync", 'record="home.example.test/A"') == 1.0
    assert metric(text, "ddnsd_detected_address_info", 'address="203.0.113.50",family="ipv4"') == 1
    assert (metric(text, "ddnsd_token_expiry_timestamp_seconds") or 0) > 1e9
    assert "ddnsd_api_requests_total{" in text
    key_line = emulator.private_key_path.read_text().splitlines()[1]
    assert key_line not in text


def _ok(url: str) -> bool:
    try:
        return http_get(url).status_code == 200
    except OSError:
        return False


def test_readyz_503_while_sources_fail(emulator: Any, tmp_path: Path, daemons: Any) -> None:
    addr = tmp_path / "address"
    addr.write_text("garbage\n")
    port = free_port()
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, http_port=port)
    d = start(daemons, cfg)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _ok(base + "/healthz"), what="healthz")
    wait_for(lambda: "round failed" in d.log or "failed" in d.log, what="a failed round")
    r = http_get(base + "/readyz")
    assert r.status_code == 503
    assert "not ready" in r.text
    # the image's HEALTHCHECK: alive, but not doing its work → unhealthy
    alive = run(["-c", str(cfg), "healthcheck"])
    assert alive.returncode == 0, alive.stderr
    ready = run(["-c", str(cfg), "healthcheck", "--ready"])
    assert ready.returncode == 1
    assert ready.stderr.strip().splitlines()[-1] == (
        f"ddnsd: http://127.0.0.1:{port}/readyz answered 503"
    ), ready.stderr


def test_readyz_names_a_refused_key_then_recovers(
    emulator: Any, tmp_path: Path, daemons: Any
) -> None:
    """A key TransIP refuses makes the daemon not ready, saying so; the right key (SIGHUP)
    makes it ready again."""
    from ddnsd.emulator.keys import write_keypair

    addr = tmp_path / "address"
    addr.write_text("203.0.113.70\n")
    port = free_port()
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, http_port=port)
    right = str(emulator.private_key_path)
    (tmp_path / "other").mkdir()
    wrong = str(write_keypair(tmp_path / "other", "other").private_key_path)
    cfg.write_text(cfg.read_text().replace(right, wrong))
    d = start(daemons, cfg)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: "refused the key" in d.log, what="the refused /auth")
    wait_for(lambda: "TransIP token" in http_get(base + "/readyz").text, what="readiness")
    r = http_get(base + "/readyz")
    assert r.status_code == 503
    assert r.text.startswith("not ready: no usable TransIP token (")
    assert "refused the key for login 'demo'" in r.text

    cfg.write_text(cfg.read_text().replace(wrong, right))
    d.signal(signal.SIGHUP)
    wait_for(lambda: _ok(base + "/readyz"), what="ready with the right key")
    assert [e.content for e in home(emulator)] == ["203.0.113.70"]


def test_converges_through_faults_without_duplicates(
    emulator: Any, tmp_path: Path, daemons: Any
) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.60\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, interval="0.5s")
    emulator.script_faults(
        [
            {"kind": "lost", "method": "POST", "path": "/v6/domains/{domain}/dns"},
            {"kind": "500", "method": "GET", "path": "/v6/domains/{domain}/dns"},
            {"kind": "409", "method": "PATCH", "path": "/v6/domains/{domain}/dns"},
        ]
    )
    start(daemons, cfg)
    wait_for(lambda: [e.content for e in home(emulator)] == ["203.0.113.60"], what="converge")
    addr.write_text("203.0.113.61\n")
    wait_for(lambda: [e.content for e in home(emulator)] == ["203.0.113.61"], what="converge 2")
    assert len(home(emulator)) == 1
    # the daemon really went through each fault (a lost answer counts as status 0)
    served = {(r["method"], r["status"]) for r in emulator.stats()["requests"]}
    assert {("POST", 0), ("GET", 500), ("PATCH", 409)} <= served


def test_sd_notify_ready_status_watchdog(emulator: Any, tmp_path: Path, daemons: Any) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.70\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr)
    sock_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(sock_path))
        sock.settimeout(30)
        start(daemons, cfg, env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"})
        seen: list[str] = []

        def got(field: str) -> bool:
            while not any(m.startswith(field) for m in seen):
                seen.extend(sock.recv(4096).decode().splitlines())
            return True

        got("READY=1")
        got("STATUS=")
        got("WATCHDOG=1")
    assert any(m.startswith("STATUS=") and m != "STATUS=" for m in seen)
    assert home(emulator)  # READY=1 came after the first round, which wrote the record


def test_router_push_updates_the_record(emulator: Any, tmp_path: Path, daemons: Any) -> None:
    """A FRITZ!Box-style dyndns2 push is the address source; a new address runs a round."""
    port = free_port()
    pw = tmp_path / "dyndns.pw"
    pw.write_text("router-secret\n")
    detect = '[detect]\nipv4 = ["push"]\nagree = 1\nallow_private = true\n'
    extra = f'[dyndns]\nusername = "router"\npassword_file = "{pw}"\n'
    cfg = write_config(
        tmp_path / "c.toml", emulator, detect=detect, extra=extra, http_port=port, interval="1h"
    )
    start(daemons, cfg)
    url = f"http://127.0.0.1:{port}/nic/update"
    wait_for(lambda: _ok(f"http://127.0.0.1:{port}/healthz"), what="healthz")
    auth = ("router", "router-secret")
    params = {"hostname": "home.example.test", "myip": "203.0.113.90"}
    r = requests.get(url, params=params, auth=auth, timeout=10)
    assert (r.status_code, r.text.strip()) == (200, "good 203.0.113.90")
    wait_for(lambda: home(emulator) == [DnsEntry("home", 300, "A", "203.0.113.90")], what="push")
    r = requests.get(url, params=params, auth=auth, timeout=10)
    assert r.text.strip() == "nochg 203.0.113.90"
    r = requests.get(url, params=params, auth=("router", "wrong"), timeout=10)
    assert (r.status_code, r.text.strip()) == (401, "badauth")
    r = requests.get(url, params={**params, "hostname": "x.example.test"}, auth=auth, timeout=10)
    assert r.text.strip() == "nohost"
    assert home(emulator) == [DnsEntry("home", 300, "A", "203.0.113.90")]


def test_reload_applies_interval_and_http_credentials(
    emulator: Any, tmp_path: Path, daemons: Any
) -> None:
    d, cfg, pw, base = httpreq_daemon(emulator, tmp_path, daemons, "203.0.113.95", "1h")

    assert cleanup_status(base, "first-password") == 200
    assert cleanup_status(base, "second-password") == 401
    before = ok_rounds(base)
    cfg.write_text(cfg.read_text().replace('interval = "1h"', 'interval = "0.3s"'))
    pw.write_text("second-password\n")
    d.signal(signal.SIGHUP)
    # an hour-long interval would allow one more round (the reload's); a new one, many
    wait_for(lambda: ok_rounds(base) >= before + 5, what="rounds at the new interval")
    assert cleanup_status(base, "second-password") == 200
    assert cleanup_status(base, "first-password") == 401


def httpreq_daemon(
    emulator: Any, tmp_path: Path, daemons: Any, address: str, interval: str
) -> tuple[Any, Path, Path, str]:
    """A daemon with lego httpreq (user "lego", password "first-password" in a file) after
    its first round: (daemon, config, password file, listener URL)."""
    addr = tmp_path / "address"
    addr.write_text(address + "\n")
    port = free_port()
    pw = tmp_path / "httpreq.pw"
    pw.write_text("first-password\n")
    extra = f'[acme.httpreq]\nusername = "lego"\npassword_file = "{pw}"\n'
    cfg = write_config(
        tmp_path / "c.toml",
        emulator,
        address_file=addr,
        http_port=port,
        interval=interval,
        extra=extra,
    )
    d = start(daemons, cfg)
    wait_for(lambda: home(emulator), what="first round")
    return d, cfg, pw, f"http://127.0.0.1:{port}"


def ok_rounds(base: str) -> float:
    """Rounds that ended well, from the daemon's /metrics at ``base``."""
    return metric(http_get(base + "/metrics").text, "ddnsd_rounds_total", 'result="ok"') or 0


def cleanup_status(base: str, password: str) -> int:
    """The status of an httpreq cleanup as user "lego" with ``password``."""
    body = {"fqdn": "_acme-challenge.example.test", "value": "x" * 43}
    r = requests.post(base + "/acme/cleanup", json=body, auth=("lego", password), timeout=30)
    return r.status_code


def test_reload_says_a_new_hook_socket_needs_a_restart(
    emulator: Any, tmp_path: Path, daemons: Any
) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.96\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, interval="1h")
    d = start(daemons, cfg)
    wait_for(lambda: home(emulator), what="first round")
    elsewhere = tmp_path / "elsewhere.sock"
    cfg.write_text(cfg.read_text().replace("[http]\n", f'[http]\nsocket = "{elsewhere}"\n', 1))
    d.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in d.log, what="the reload")
    assert "[http] socket changed: hooks find the daemon there after a restart" in d.log
    assert not elsewhere.exists()  # still listening where it started


def test_reload_with_an_empty_password_file_keeps_the_old_configuration(
    emulator: Any, tmp_path: Path, daemons: Any
) -> None:
    """A reload that cannot build the listener's credentials is refused before anything is
    swapped: one line names the problem, the old app, interval and password keep working."""
    d, cfg, pw, base = httpreq_daemon(emulator, tmp_path, daemons, "203.0.113.97", "0.3s")

    # the new config would add a record and slow the rounds down, but its password is empty
    pw.write_text("")
    office = '[[records]]\ndomain = "example.test"\nname = "office"\ntype = "A"\n\n[[records]]'
    text = cfg.read_text().replace('interval = "0.3s"', 'interval = "1h"')
    cfg.write_text(text.replace("[[records]]", office, 1))
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in d.log, what="the refused reload")
    before = ok_rounds(base)
    wait_for(lambda: ok_rounds(base) >= before + 5, what="rounds at the old interval")
    assert not [e for e in emulator.entries("example.test") if e.name == "office"]
    assert http_get(base + "/healthz").status_code == 200
    assert cleanup_status(base, "first-password") == 200
    assert cleanup_status(base, "") == 401
    assert "Traceback" not in d.log
    assert "round crashed" not in d.log
    assert "configuration reloaded" not in d.log
    refused = [ln for ln in d.log.splitlines() if "reload refused" in ln]
    assert len(refused) == 1, d.log
    assert refused[0].endswith(
        f"reload refused, keeping the running configuration: config file {cfg} has 1 problem: "
        f"the secret file {pw} is empty; put the password on its first line"
    ), refused[0]
    assert d.proc.poll() is None
