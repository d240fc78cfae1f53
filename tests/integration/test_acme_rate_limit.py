"""A hook after a 429 another process got: it waits for the reset, sending nothing, then works.

Real processes against the emulator (``--rate-limit 20`` in a short window): another
client of the same login spends the window, ``ddnsd once`` gets the one 429 and exits 3,
then ``ddnsd present`` runs, in its own process or handed to the daemon over its socket,
with and without ``[acme] zones`` (without them its first request is the zone check's
``GET /domains``). What reached TransIP, and when, is read from the emulator's log.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from acme_support import challenge_values
from daemon_support import DaemonProcess, run, write_config

from ddnsd.errors import EXIT_DEFERRED

if TYPE_CHECKING:
    from conftest import EmulatorFactory

CHALLENGE = "_acme-challenge.example.test."
VALUE = "Zb0cmLlX9yXn0ycGzWBNh9zH2h7XOPB2Zr4m3JjF6lA"
WINDOW = 12  # seconds: longer than spending it, `once` and a hook's start take together


def emulator_log(emulator: Any) -> list[dict[str, Any]]:
    reply = requests.get(emulator.base_url + "/_emulator/log", timeout=5)
    return list(reply.json()["requests"])


def spend_the_window(emulator: Any) -> None:
    """Another client of the login (its own token) uses up the window, and no more."""
    headers = {"Authorization": f"Bearer {emulator.token()}"}
    while True:
        reply = requests.get(emulator.api_url + "/domains", headers=headers, timeout=5)
        assert reply.status_code == 200, reply.text
        if reply.headers["X-Rate-Limit-Remaining"] == "0":
            return


@pytest.mark.timeout(120)
@pytest.mark.parametrize("zones", [False, True], ids=["no-acme-zones", "acme-zones"])
@pytest.mark.parametrize("daemon", [False, True], ids=["in-its-own-process", "handed-to-daemon"])
def test_a_hook_waits_for_the_reset_of_a_429_that_another_process_got(
    emulator_factory: EmulatorFactory,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    zones: bool,
    daemon: bool,
) -> None:
    emulator = emulator_factory(rate_limit=20, rate_limit_window=WINDOW)
    address = tmp_path / "address"
    address.write_text("203.0.113.7\n")
    acme = "[acme]\n" + ('zones = ["example.test"]\n' if zones else "") + 'poll_interval = "0.2s"'
    # Two configurations, one login and one state dir: `once` keeps a record, the hook
    # (and the daemon) do ACME only, so the daemon itself sends nothing on its own.
    once_config = write_config(tmp_path / "once.toml", emulator, address_file=address)
    hook_config = write_config(tmp_path / "hook.toml", emulator, records="", extra=acme)
    if daemon:
        served = DaemonProcess(hook_config)
        daemons.append(served)
        served.wait_for_socket(tmp_path / "state" / "ddnsd.sock")

    spend_the_window(emulator)
    once = run(["-c", str(once_config), "once"])
    assert once.returncode == EXIT_DEFERRED, once.stderr
    hook = run(["-c", str(hook_config), "present", CHALLENGE, VALUE])

    assert hook.returncode == 0, hook.stderr
    assert "waiting" in hook.stderr and "for TransIP's rate limit" in hook.stderr, hook.stderr
    assert challenge_values(emulator) == [VALUE]
    if daemon:
        assert served.log.count("ddnsd.handoff.server: hook from uid") == 1
    sent = emulator_log(emulator)
    assert [r["status"] for r in sent].count(429) == 1  # `once`'s, and no other
    window_opened = next(r["at"] for r in sent if r["path"] == "/v6/domains")
    after = sent[[r["status"] for r in sent].index(429) + 1 :]
    assert after, "the hook sent its requests"
    assert min(r["at"] for r in after) >= window_opened + WINDOW  # nothing before the reset
