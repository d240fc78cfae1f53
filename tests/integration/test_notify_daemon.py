"""Notifications (Apprise json:// to a local receiver) and heartbeats, from the real daemon
and ``ddnsd once`` against the emulator."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from daemon_support import (
    DaemonProcess,
    address_config,
    free_port,
    http_get,
    run,
    wait_for,
    write_config,
)
from receiver_support import Receiver
from tls_support import self_signed


def home(emulator: Any) -> list[str]:
    return [
        e.content for e in emulator.entries("example.test") if e.name == "home" and e.type == "A"
    ]


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.close()


def test_one_message_per_change_one_failure_one_recovery(
    emulator: Any, tmp_path: Path, receivers: list[Receiver], daemons: list[DaemonProcess]
) -> None:
    hook = Receiver()
    receivers.append(hook)
    notify = f'[notify]\nurls = ["json://{hook.address}/hook"]\nfailure_after = 3\n'
    addr, cfg = address_config(tmp_path, emulator, "203.0.113.10", extra=notify)
    d = DaemonProcess(cfg)
    daemons.append(d)
    wait_for(lambda: home(emulator) == ["203.0.113.10"], what="the first address")
    for new in ("203.0.113.77", "198.51.100.42"):
        addr.write_text(new + "\n")
        wait_for(lambda n=new: any(n in t for t in hook.titles()), what=f"the message for {new}")
    addr.write_text("not an address\n")  # every round fails from now on
    wait_for(lambda: any("rounds in a row failed" in t for t in hook.titles()), what="failure")
    addr.write_text("198.51.100.42\n")
    wait_for(lambda: any("back in sync" in t for t in hook.titles()), what="recovery")
    assert d.stop() == 0  # sends what is queued before it exits
    assert hook.titles() == [
        "ddnsd: IPv4 address changed to 203.0.113.77",
        "ddnsd: IPv4 address changed to 198.51.100.42",
        "ddnsd: 3 rounds in a row failed",
        "ddnsd: back in sync",
    ]
    failure = next(r.json() for r in hook.received if "failed" in r.json()["title"])
    assert "no A address known" in failure["message"]


@pytest.mark.slow(10)
def test_a_hanging_receiver_does_not_delay_rounds(
    emulator: Any, tmp_path: Path, receivers: list[Receiver], daemons: list[DaemonProcess]
) -> None:
    stuck = Receiver(hang=True)
    receivers.append(stuck)
    # a send may take 120 s, far longer than each change below may take to reach TransIP
    notify = (
        f'[notify]\nurls = ["json://{stuck.address}/"]\nevents = ["written"]\ntimeout = "120s"\n'
    )
    addr, cfg = address_config(tmp_path, emulator, "203.0.113.20", extra=notify)
    daemons.append(DaemonProcess(cfg))
    wait_for(lambda: home(emulator) == ["203.0.113.20"], what="the first address")
    assert stuck.arrived.wait(30), "the first message never reached the receiver"
    for new in ("203.0.113.21", "203.0.113.22", "203.0.113.23"):
        addr.write_text(new + "\n")
        wait_for(lambda n=new: home(emulator) == [n], timeout=20, what=f"{new} while it hangs")
    assert len(stuck.received) == 1  # still holding the first message


def test_heartbeat_per_once_round(emulator: Any, tmp_path: Path, receivers: list[Receiver]) -> None:
    hc = Receiver()
    receivers.append(hc)
    beat = f'[notify]\nheartbeat_url = "http://{hc.address}/ping/abc"\nheartbeat_start = true\n'
    addr, cfg = address_config(tmp_path, emulator, "203.0.113.30", extra=beat)
    for _ in range(3):
        assert run(["-c", str(cfg), "once"]).returncode == 0
    addr.write_text("not an address\n")
    assert run(["-c", str(cfg), "once"]).returncode == 1
    assert hc.paths() == ["/ping/abc/start", "/ping/abc"] * 3 + [
        "/ping/abc/start",
        "/ping/abc/fail",
    ]


def test_daemon_heartbeat_per_round_and_uptime_kuma_fail_url(
    emulator: Any, tmp_path: Path, receivers: list[Receiver], daemons: list[DaemonProcess]
) -> None:
    kuma = Receiver()
    receivers.append(kuma)
    push = f"http://{kuma.address}/api/push/tok"
    beat = (
        f'[notify]\nheartbeat_url = "{push}?status=up&msg=OK"\n'
        f'heartbeat_fail_url = "{push}?status=down&msg=failed"\n'
    )
    addr, cfg = address_config(tmp_path, emulator, "203.0.113.40", extra=beat, interval="1h")
    d = DaemonProcess(cfg)
    daemons.append(d)
    wait_for(lambda: len(kuma.received) == 1, what="the first round's ping")
    d.signal(signal.SIGUSR1)
    wait_for(lambda: len(kuma.received) == 2, what="the second round's ping")
    addr.write_text("not an address\n")
    d.signal(signal.SIGUSR1)
    wait_for(lambda: len(kuma.received) == 3, what="the failed round's ping")
    assert d.stop() == 0
    up, down = "/api/push/tok?status=up&msg=OK", "/api/push/tok?status=down&msg=failed"
    assert kuma.paths() == [up, up, down]


def test_a_private_ca_in_requests_ca_bundle_serves_transip_sources_and_heartbeats(
    emulator_factory: Any, tmp_path: Path, receivers: list[Receiver]
) -> None:
    """One HTTP stack: the CA bundle the environment names is trusted by the TransIP client,
    an https:// address source and the heartbeat alike (an Uptime Kuma on the LAN with a
    certificate of its own CA); without it all three refuse the certificate."""
    cert, key = self_signed(tmp_path)
    emulator = emulator_factory(tls_cert=cert, tls_key=key)
    echo = Receiver(answer=b"203.0.113.70\n", tls=(cert, key))
    kuma = Receiver(tls=(cert, key))
    receivers += [echo, kuma]
    detect = f'[detect]\nipv4 = ["{echo.url}/ip"]\nagree = 1\nallow_private = true\n'
    beat = f'[notify]\nheartbeat_url = "{kuma.url}/api/push/tok"\n'
    cfg = write_config(tmp_path / "c.toml", emulator, detect=detect, extra=beat)
    assert cfg.read_text().count("https://127.0.0.1:") == 3

    untrusted = run(["-c", str(cfg), "once"], env={"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""})
    assert untrusted.returncode == 1, untrusted.stderr
    assert (echo.paths(), kuma.paths(), home(emulator)) == ([], [], [])

    trusted = run(["-c", str(cfg), "once"], env={"REQUESTS_CA_BUNDLE": str(cert)})
    assert trusted.returncode == 0, trusted.stderr
    assert home(emulator) == ["203.0.113.70"]
    assert (echo.paths(), kuma.paths()) == (["/ip"], ["/api/push/tok"])


def test_heartbeats_go_through_the_environments_proxy_address_sources_never(
    emulator: Any, tmp_path: Path, receivers: list[Receiver]
) -> None:
    """An echo service asked through a proxy would see the proxy's address: address sources
    ignore HTTP_PROXY, heartbeats (and TransIP, unless NO_PROXY says otherwise) use it."""
    proxy, echo = Receiver(), Receiver(answer=b"203.0.113.71\n")
    receivers += [proxy, echo]
    echo_url = echo.url.replace("127.0.0.1", "localhost")  # a name NO_PROXY does not list
    detect = (
        f'[detect]\nipv4 = ["{echo_url}/ip"]\nagree = 1\nallow_private = true\n'
        "allow_insecure_sources = true\n"
    )
    beat = '[notify]\nheartbeat_url = "http://kuma.invalid/api/push/tok"\n'
    cfg = write_config(tmp_path / "c.toml", emulator, detect=detect, extra=beat)
    env = {"HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"}  # TransIP (the emulator) directly
    done = run(["-c", str(cfg), "once"], env={**env, **{k.lower(): v for k, v in env.items()}})
    assert done.returncode == 0, done.stderr
    assert home(emulator) == ["203.0.113.71"]
    assert (proxy.paths(), echo.paths()) == (["http://kuma.invalid/api/push/tok"], ["/ip"])


def test_failed_sends_are_counted_and_never_show_a_secret(
    emulator: Any, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    closed = free_port()  # nothing listens here: every send fails
    notify = (
        f'[notify]\nurls = ["json://user:hunter2pw@127.0.0.1:{closed}/s3cr3tpath"]\n'
        f'heartbeat_url = "http://127.0.0.1:{closed}/ping/0f1e2d3c-uuid"\nevents = ["written"]\n'
    )
    port = free_port()
    _, cfg = address_config(tmp_path, emulator, "203.0.113.50", http_port=port, extra=notify)
    d = DaemonProcess(cfg)
    daemons.append(d)
    url = f"http://127.0.0.1:{port}/metrics"

    def failures(kind: str) -> bool:
        try:
            return f'ddnsd_notify_failures_total{{kind="{kind}"}} 1.0' in http_get(url).text
        except OSError:  # not listening yet
            return False

    wait_for(lambda: failures("message"), what="the failed message counted")
    wait_for(lambda: failures("heartbeat"), what="a failed heartbeat counted")
    assert d.stop() == 0
    assert "notification 1 (json://…) failed" in d.log
    for secret in ("hunter2pw", "s3cr3tpath", "0f1e2d3c-uuid"):
        assert secret not in d.log


def test_apprise_is_never_imported_without_urls_nor_by_a_hook(
    emulator: Any, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    port = free_port()
    importtime = {"PYTHONPROFILEIMPORTTIME": "1"}  # every import, on stderr
    beat = '[notify]\nheartbeat_url = "http://127.0.0.1:9/ping"\n'  # heartbeats need no Apprise
    _, cfg = address_config(tmp_path, emulator, "203.0.113.60", http_port=port, extra=beat)
    d = DaemonProcess(cfg, env=importtime)
    daemons.append(d)
    wait_for(lambda: home(emulator) == ["203.0.113.60"], what="a round")
    assert http_get(f"http://127.0.0.1:{port}/").status_code == 200
    assert d.stop() == 0
    imported = re.compile(r"^import time:.*\|\s*apprise\b", re.M)  # an import line of Apprise
    assert "| ddnsd.daemon" in d.log and not imported.search(d.log)

    urls = f'[notify]\nurls = ["json://127.0.0.1:{free_port()}/"]\n'
    hook_cfg = write_config(tmp_path / "hook.toml", emulator, extra=urls)
    fqdn, value = "_acme-challenge.example.test", "v" * 43
    present = run(["-c", str(hook_cfg), "present", fqdn, value], env=importtime)
    assert present.returncode == 0, present.stderr
    assert "| ddnsd.acme.service" in present.stderr and not imported.search(present.stderr)


def test_a_failed_acme_challenge_is_sent_and_listed(
    emulator: Any, tmp_path: Path, receivers: list[Receiver], daemons: list[DaemonProcess]
) -> None:
    hook = Receiver()
    receivers.append(hook)
    port = free_port()
    extra = (
        '[acme]\nzones = ["example.test"]\n'
        '[acme.httpreq]\nusername = "lego"\npassword = "pw"\n'
        f'[notify]\nurls = ["json://{hook.address}/"]\n'
    )
    cfg = write_config(tmp_path / "c.toml", emulator, records="", http_port=port, extra=extra)
    daemons.append(DaemonProcess(cfg))
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: ready(url), what="the listener")
    body = {"fqdn": "_acme-challenge.other.test.", "value": "v" * 43}
    refused = requests.post(f"{url}/acme/present", json=body, auth=("lego", "pw"), timeout=30)
    assert refused.status_code == 403
    wait_for(lambda: hook.titles(), what="the ACME failure message")
    assert hook.titles() == ["ddnsd: ACME challenge for _acme-challenge.other.test failed"]
    failures = requests.get(f"{url}/api/status", timeout=5).json()["failures"]
    assert [(f["kind"], f["action"]) for f in failures] == [("challenge_failed", "present")]


def ready(url: str) -> bool:
    try:
        return http_get(url + "/healthz").status_code == 200
    except OSError:
        return False
