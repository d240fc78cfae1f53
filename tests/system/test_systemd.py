"""The shipped units under a real systemd: Debian 12 booted in systemd-nspawn.

ddnsd is installed in the booted root exactly as README's Install section says (its
command lines are run as written, from a copy of this checkout), ``systemd/*`` are
installed unchanged as README's systemd sections say, and the daemon talks to an emulator
on the host (nspawn shares the host's network). The key is generated at test time.

The tests run in file order on one machine, as a user would go: enable, reload, USR1,
watchdog, kill -9, certbot's hooks, the security rating, then the timer.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from system_support import (
    CACHE,
    Machine,
    auth_requests,
    booted,
    copy_checkout,
    readme_block,
    records,
    unpack_root,
    wait_for,
)

from ddnsd.emulator.keys import KeyPair
from ddnsd.emulator.server import Emulator, EmulatorConfig

pytestmark = [pytest.mark.system, pytest.mark.timeout(1800)]  # the first run debootstraps

UNIT = "ddnsd.service"
STATE = "/var/lib/private/ddnsd"  # where DynamicUser= keeps /var/lib/ddnsd
DYNAMIC_UIDS = range(61184, 65520)  # systemd's range for DynamicUser=


@pytest.fixture(scope="module")
def emulator(rsa_keypair: KeyPair) -> Iterator[Emulator]:
    config = EmulatorConfig(users={"demo": rsa_keypair.public_pem}, domains=["example.test"])
    with Emulator(config) as emu:
        yield emu


def record_block(name: str) -> str:
    return f'[[records]]\ndomain = "example.test"\nname = "{name}"\ntype = "A"\nttl = 300\n'


def config_toml(emu: Emulator, http_port: int, records: list[str]) -> str:
    host, dns_port = emu.dns_address
    blocks = "".join(record_block(name) + "\n" for name in records)
    return f"""\
[transip]
login = "demo"
private_key_file = "transip.key"
api_url = "{emu.api_url}"

{blocks}[detect]
ipv4 = ["file:/etc/ddnsd/address"]
agree = 1
allow_private = true

[schedule]
interval = "1h"
jitter = 0

[dns]
nameservers = ["{host}:{dns_port}"]

[http]
listen = "127.0.0.1:{http_port}"
"""


@pytest.fixture(scope="module")
def machine(
    debian_tarball: Path,
    emulator: Emulator,
    rsa_keypair: KeyPair,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Machine]:
    from daemon_support import free_port

    work = tmp_path_factory.mktemp("nspawn")
    root = unpack_root(debian_tarball, work / "root")
    checkout = root / "root/ddnsd"
    copy_checkout(checkout)
    shutil.copy(rsa_keypair.private_key_path, checkout / "transip.key")
    pip_cache = CACHE / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    try:
        with booted(root, work / "console.log", [f"{pip_cache}:/root/.cache/pip"]) as m:
            install = readme_block("## Install")
            # README's install lines, then the user's edit of config.toml, then its checks.
            m.sh("cd /root/ddnsd\n" + "\n".join(x for x in install if not x.startswith("ddnsd ")))
            (root / "etc/ddnsd/address").write_text("192.0.2.10\n")
            conf = config_toml(emulator, free_port(), ["home"])
            (root / "etc/ddnsd/config.toml").write_text(conf)
            m.sh("cd /root/ddnsd\n" + "\n".join(x for x in install if x.startswith("ddnsd ")))
            units = readme_block("### Home server (systemd)") + readme_block(
                "### cron / systemd timer"
            )
            m.sh("cd /root/ddnsd\n" + "\n".join(x for x in units if x.startswith("install ")))
            yield m
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main_pid(m: Machine) -> int:
    return int(m.show(UNIT, "MainPID"))


def in_sync(m: Machine, count: int) -> str | None:
    status = m.show(UNIT, "StatusText")
    return status if status.startswith(f"in sync: {count}/{count} records") else None


def journal(m: Machine, unit: str = UNIT) -> str:
    return m.ok("journalctl", "--no-pager", "-o", "cat", "-u", unit)


def set_address(m: Machine, address: str) -> None:
    (m.root / "etc/ddnsd/address").write_text(address + "\n")


def test_enable_now_starts_in_sync_as_a_dynamic_user(machine: Machine, emulator: Emulator) -> None:
    (enable,) = [x for x in readme_block("### Home server (systemd)") if "enable --now" in x]
    machine.sh(enable)  # returns once the unit sent READY=1 (Type=notify)
    assert machine.show(UNIT, "ActiveState") == "active"
    assert machine.show(UNIT, "SubState") == "running"
    status = wait_for("StatusText in sync", lambda: in_sync(machine, 1), 60)
    assert "last round" in status
    assert records(emulator, "home") == ["192.0.2.10"]
    uid = int(machine.show(UNIT, "UID"))
    assert uid in DYNAMIC_UIDS
    proc = machine.ok("cat", f"/proc/{main_pid(machine)}/status")
    assert re.search(rf"^Uid:\s+{uid}\s", proc, re.M), proc
    assert "Traceback" not in journal(machine)


def test_reload_applies_a_changed_config_in_the_same_process(
    machine: Machine, emulator: Emulator
) -> None:
    pid = main_pid(machine)
    conf = machine.root / "etc/ddnsd/config.toml"
    conf.write_text(conf.read_text() + "\n" + record_block("reload"))
    machine.ok("systemctl", "reload", UNIT)
    wait_for("the reloaded record at the emulator", lambda: records(emulator, "reload"), 60)
    assert records(emulator, "reload") == ["192.0.2.10"]
    wait_for("StatusText in sync: 2/2", lambda: in_sync(machine, 2), 60)
    assert main_pid(machine) == pid
    assert "configuration reloaded" in journal(machine)


def test_usr1_forces_a_round(machine: Machine, emulator: Emulator) -> None:
    """The interval is an hour: only the signal's round can write the new address."""
    set_address(machine, "192.0.2.11")
    machine.ok("systemctl", "kill", "-s", "USR1", UNIT)
    wait_for("the USR1 round's write", lambda: records(emulator, "home") == ["192.0.2.11"], 60)


def test_watchdog_keeps_it_alive_past_twice_its_interval(machine: Machine) -> None:
    """A drop-in shortens WatchdogSec= to 2 s (the shipped 60 s would take minutes); the
    daemon must keep pinging for more than two intervals, in the same process."""
    dropin = machine.root / "etc/systemd/system/ddnsd.service.d/watchdog.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text("[Service]\nWatchdogSec=2s\n")
    try:
        machine.ok("systemctl", "daemon-reload")
        machine.ok("systemctl", "restart", UNIT)
        assert machine.show(UNIT, "WatchdogUSec") == "2s"
        pid, restarts = main_pid(machine), machine.show(UNIT, "NRestarts")
        first = int(machine.show(UNIT, "WatchdogTimestampMonotonic"))
        pings: set[int] = set()

        def five_seconds_alive() -> bool:
            assert machine.show(UNIT, "ActiveState") == "active"
            assert main_pid(machine) == pid
            pings.add(int(machine.show(UNIT, "WatchdogTimestampMonotonic")))
            return max(pings) - first > 5_000_000  # the daemon's own pings span 5 s

        wait_for("watchdog pings over 5 s", five_seconds_alive, 30)
        assert machine.show(UNIT, "NRestarts") == restarts
    finally:
        dropin.unlink()
        dropin.parent.rmdir()
        machine.ok("systemctl", "daemon-reload")
        machine.ok("systemctl", "restart", UNIT)


def test_kill_9_restarts_with_the_cached_token(machine: Machine, emulator: Emulator) -> None:
    wait_for("in sync", lambda: in_sync(machine, 2), 60)
    pid, restarts, tokens = (
        main_pid(machine),
        int(machine.show(UNIT, "NRestarts")),
        auth_requests(emulator),
    )
    machine.ok("kill", "-9", str(pid))
    wait_for("Restart= to bring it back", lambda: main_pid(machine) not in (0, pid), 60)
    wait_for("active again", lambda: machine.show(UNIT, "ActiveState") == "active", 60)
    assert int(machine.show(UNIT, "NRestarts")) == restarts + 1
    # A write needs a token: the one cached in the state dir, not a new one.
    set_address(machine, "192.0.2.12")
    machine.ok("systemctl", "kill", "-s", "USR1", UNIT)
    wait_for("the new process's write", lambda: records(emulator, "home") == ["192.0.2.12"], 60)
    assert auth_requests(emulator) == tokens


def test_certbot_hooks_as_root_are_served_by_the_daemon(
    machine: Machine, emulator: Emulator
) -> None:
    env = {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": "system-test-value"}
    since = journal(machine).count("hook from uid 0")
    machine.ok("ddnsd", "hook", "certbot-auth", env=env)
    assert records(emulator, "_acme-challenge", "TXT") == ["system-test-value"]
    machine.ok("ddnsd", "hook", "certbot-cleanup", env=env)
    assert records(emulator, "_acme-challenge", "TXT") == []
    assert journal(machine).count("hook from uid 0") == since + 2
    assert machine.ok("test", "-S", "/run/ddnsd/ddnsd.sock") == ""
    root_owned = machine.ok("find", STATE, "-user", "root")
    assert root_owned == "", f"root-owned in the state dir:\n{root_owned}"


def test_security_rating_of_the_running_unit(machine: Machine) -> None:
    assert machine.show(UNIT, "ActiveState") == "active"
    out = machine.ok("systemd-analyze", "security", "--no-pager", UNIT)
    exposure = re.search(r"Overall exposure level for ddnsd\.service: (\d+\.\d+)", out)
    assert exposure is not None, out
    assert float(exposure.group(1)) <= 2.0, out


def test_timer_service_runs_with_the_daemon_stopped(machine: Machine, emulator: Emulator) -> None:
    machine.ok("systemctl", "stop", UNIT)
    tokens = auth_requests(emulator)
    set_address(machine, "192.0.2.13")
    machine.ok("systemctl", "start", "ddnsd-once.service")  # a oneshot: returns when done
    assert machine.show("ddnsd-once.service", "Result") == "success"
    assert machine.show("ddnsd-once.service", "ExecMainStatus") == "0"
    assert records(emulator, "home") == ["192.0.2.13"]
    # It used the daemon's cached token and left its state for the next run.
    assert auth_requests(emulator) == tokens
    assert machine.ok("test", "-s", f"{STATE}/records.json") == ""
    machine.ok("systemctl", "start", "ddnsd-once.service")
    assert machine.show("ddnsd-once.service", "ExecMainStatus") == "0"
    assert "Traceback" not in journal(machine, "ddnsd-once.service")
    (enable,) = [x for x in readme_block("### cron / systemd timer") if "enable --now" in x]
    machine.sh(enable)
    assert machine.ok("systemctl", "is-active", "ddnsd-once.timer").strip() == "active"
