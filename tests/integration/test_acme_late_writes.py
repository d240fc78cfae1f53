"""A challenge POST that lands after its cleanup: the journal keeps the value until none can.

Real processes against the emulator: ``ddnsd present`` is SIGKILLed while its POST is
still on the way (the emulator's ``slow`` fault), ``ddnsd cleanup`` of the same value runs
before the POST lands, and the value must be deleted by the very next run that sweeps (a
hook, the daemon's start), its journal entry kept pending until no POST of it can land.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from acme_support import backdate_journal, challenge_values, journal_entries, write_ddnsd_config
from daemon_support import DaemonProcess, free_port, run, wait_for

if TYPE_CHECKING:
    from conftest import EmulatorFactory, EmulatorHandle

FQDN = "_acme-challenge.example.test."
VALUE = "Zb0cmLlX9yXn0ycGzWBNh9zH2h7XOPB2Zr4m3JjF6lA"
OTHER = "M2fSRlSJLp1nDs3rPQ-V7mOe6P5GdA6lBWcBvD0ZyAg"
RECORD = """[[records]]
domain = "example.test"
name = "home"
type = "A"

[detect]
ipv4 = ["file:ADDRESS"]
agree = 1
allow_private = true
"""


@pytest.mark.parametrize("next_run", ["hook", "once", "daemon-start"])
def test_a_value_landing_after_its_cleanup_is_deleted_by_the_very_next_run(
    emulator_factory: EmulatorFactory,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    next_run: str,
) -> None:
    emulator = emulator_factory(slow_seconds=4)
    address = tmp_path / "address"
    address.write_text("203.0.113.7\n")
    config = write_ddnsd_config(
        tmp_path,
        emulator,
        propagation_timeout=30,
        http_listen=f"127.0.0.1:{free_port()}",
        extra=f'[schedule]\ninterval = "1h"\n\n{RECORD}'.replace("ADDRESS", str(address)),
    )
    state = tmp_path / "state"
    assert run(["-c", str(config), "present", FQDN, OTHER]).returncode == 0  # token, domains
    assert run(["-c", str(config), "cleanup", FQDN, OTHER]).returncode == 0
    emulator.script_faults([{"kind": "slow", "method": "POST"}])

    present = subprocess.Popen(
        [sys.executable, "-m", "ddnsd", "-c", str(config), "present", FQDN, VALUE],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")},
    )
    try:
        wait_for(lambda: journal_entries(state), 30, "present to journal the value")
        time.sleep(0.7)  # the moment: the POST is on its way, not landed yet
    finally:
        present.send_signal(signal.SIGKILL)
        present.wait(10)
    assert challenge_values(emulator) == []

    cleanup = run(["-c", str(config), "cleanup", FQDN, VALUE])
    assert cleanup.returncode == 0, cleanup.stderr
    assert "pending removal" in cleanup.stderr, cleanup.stderr
    assert "Traceback" not in cleanup.stderr

    # The slow POST lands after the cleanup ...
    wait_for(lambda: challenge_values(emulator) == [VALUE], 30, "the slow POST to land")
    # ... and the very next run that sweeps deletes it, without waiting for its window.
    if next_run == "hook":
        nxt = run(["-c", str(config), "present", FQDN, OTHER])
        assert nxt.returncode == 0, nxt.stderr
        assert challenge_values(emulator) == [OTHER]
        assert run(["-c", str(config), "cleanup", FQDN, OTHER]).returncode == 0
    elif next_run == "once":
        once = run(["-c", str(config), "once"])
        assert once.returncode == 0, once.stderr
        assert "removed 1 stale ACME challenge entry" in once.stderr, once.stderr
    else:
        daemons.append(DaemonProcess(config))
        wait_for(lambda: challenge_values(emulator) == [], 30, "the daemon's start to sweep")
    assert challenge_values(emulator) == []
    # Its journal entry stays pending removal: another POST of it might still land ...
    assert [(e["content"], e["pending_removal"]) for e in journal_entries(state)] == [(VALUE, True)]
    # ... until none can: then the next hook run forgets it.
    backdate_journal(state, 3600)
    last = run(["-c", str(config), "cleanup", FQDN, OTHER])
    assert last.returncode == 0, last.stderr
    assert challenge_values(emulator) == []
    assert journal_entries(state) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


def test_the_next_start_removes_temp_files_a_kill_left_but_not_a_live_writers(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    config = write_ddnsd_config(tmp_path, emulator, propagation_timeout=30)
    state = tmp_path / "state"
    dead, old = _dead_pid(), time.time() - 3600
    live = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    litter = [
        f".acme-journal.json.{dead}.tmp",
        f".domains.json.{dead}.tmp",
        ".transip-token-x1y2z3.tmp",
        ".acme-post-12345-abcd.lock",  # a killed present's POST lock: nobody holds it
    ]
    kept = [
        f".acme-journal.json.{live.pid}.tmp",  # another live process may still write it
        f".domains.json.{dead}.tmp.young",  # not ours
    ]
    try:
        for name in litter + kept:
            (state / name).write_text("{")
            os.utime(state / name, (old, old))
        young = f".acme-journal.json.{dead + 1}.tmp"  # written a moment ago: left alone
        (state / young).write_text("{")

        done = run(["-c", str(config), "cleanup", FQDN, VALUE])
        assert done.returncode == 0, done.stderr
        left = {p.name for p in state.iterdir()}
        assert not left & set(litter), left
        assert set(kept) | {young} <= left
        assert "removed 4 file(s) a killed ddnsd left in" in done.stderr
    finally:
        live.kill()
        live.wait(10)
