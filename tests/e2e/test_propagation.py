"""``ddnsd present`` waits for the emulator's nameserver; a killed present leaves nothing behind."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from acme_support import backdate_journal
from e2e_support import (
    EmulatorLike,
    assert_zone_clean,
    challenge_entries,
    foreign_entries,
    free_port,
    run,
    running_daemon,
    spawn,
    stop_process,
    venv_tool,
    write_ddnsd_config,
)

from ddnsd.authdns import parse_server, query

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

FQDN = "_acme-challenge.example.test."
VALUE = "Zb0cmLlX9yXn0ycGzWBNh9zH2h7XOPB2Zr4m3JjF6lA"
OTHER = "M2fSRlSJLp1nDs3rPQ-V7mOe6P5GdA6lBWcBvD0ZyAg"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout}s waiting for {what}", pytrace=False)
        time.sleep(0.2)


def test_present_returns_only_after_the_nameserver_serves_the_value(
    emulator_factory: Callable[..., EmulatorLike], tmp_path: Path
) -> None:
    emulator = emulator_factory(propagation_delay=5)
    ddnsd = venv_tool("ddnsd")
    config = write_ddnsd_config(tmp_path, emulator, propagation_timeout=60)
    before = foreign_entries(emulator)

    run([ddnsd, "-c", str(config), "present", FQDN, VALUE], timeout=90)

    # Right after the hook exits, the authoritative server already answers with the value.
    assert VALUE in query(parse_server(emulator.dns_server), FQDN, "TXT")

    run([ddnsd, "-c", str(config), "cleanup", FQDN, VALUE], timeout=90)
    assert_zone_clean(emulator, before)


def test_present_that_outlasts_propagation_timeout_fails_naming_the_nameserver(
    emulator_factory: Callable[..., EmulatorLike], tmp_path: Path
) -> None:
    emulator = emulator_factory(propagation_delay=120)
    ddnsd = venv_tool("ddnsd")
    config = write_ddnsd_config(tmp_path, emulator, propagation_timeout=2)

    proc = run([ddnsd, "-c", str(config), "present", FQDN, VALUE], timeout=60, check=False)

    assert proc.returncode != 0
    assert emulator.dns_server in proc.stdout + proc.stderr
    run([ddnsd, "-c", str(config), "cleanup", FQDN, VALUE], timeout=60)
    assert challenge_entries(emulator) == []


@pytest.mark.parametrize("next_process", ["cleanup", "run"], ids=["next-cleanup", "next-run"])
def test_journal_of_a_killed_present_is_cleaned_by_the_next_process(
    emulator_factory: Callable[..., EmulatorLike],
    tmp_path: Path,
    next_process: str,
) -> None:
    # The value never shows on the nameserver during the test, so present keeps waiting.
    emulator = emulator_factory(propagation_delay=600)
    ddnsd = venv_tool("ddnsd")
    listen = f"127.0.0.1:{free_port()}"
    config = write_ddnsd_config(
        tmp_path, emulator, propagation_timeout=300, max_age="1s", http_listen=listen
    )
    before = foreign_entries(emulator)

    log = (tmp_path / "present.log").open("wb")
    present = spawn([ddnsd, "-c", str(config), "present", FQDN, VALUE], log)
    try:
        wait_for(lambda: challenge_entries(emulator) != [], 30, "present to add the TXT entry")
        assert present.poll() is None, "present returned although the value cannot propagate"
        present.kill()  # SIGKILL: no chance to clean up
        present.wait(10)
    finally:
        stop_process(present)
        log.close()
    assert [e["content"] for e in challenge_entries(emulator)] == [VALUE]

    backdate_journal(tmp_path / "state", 2)  # older than max_age ("1s") without waiting
    if next_process == "cleanup":  # of another value: the sweep happens on the way
        proc = run([ddnsd, "-c", str(config), "cleanup", FQDN, OTHER], timeout=60, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
    else:
        with running_daemon(config, listen, tmp_path):
            wait_for(lambda: challenge_entries(emulator) == [], 30, "ddnsd run to sweep")

    assert_zone_clean(emulator, before)
