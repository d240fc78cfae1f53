"""Campaign "kills": SIGKILL ``present``, ``cleanup`` and the daemon at random moments while
the emulator injects faults (500, 409, slow, lost) into writes; after the next sweep no
challenge value is left at TransIP.

Each seeded case picks a victim:

* ``present`` is killed (the moment counted from when it journalled the value, so its
  POST is often on the way), then ``cleanup`` of the same value runs, as an ACME client
  does after a failed hook (the late-landing POST of issue 11, item 1; main's code left
  2 orphans in 100 cases);
* ``present`` runs, then ``cleanup`` is killed;
* the daemon is killed while it serves a lego httpreq ``present``.

Then the faults stop, in-flight slow requests land, the journal's clock is moved past
``max_age`` (and temporary files past their minute), and one hook run — the next
sweep — must leave no challenge value at TransIP (orphans), and a second one an empty
journal and no litter. Foreign entries must be byte-identical (unintended writes), and no
process may print a traceback. Quick: 10 cases; full: 100.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from acme_support import (
    HTTPREQ_PASSWORD,
    backdate_journal,
    challenge_values,
    journal_entries,
    write_ddnsd_config,
)
from daemon_support import DDNSD, free_port, run, wait_for

BASE_CASES = 10
FQDN = "_acme-challenge.example.test."
SLOW = 2.0  # seconds a "slow" fault holds a request before applying it


def value(seed: str) -> str:
    """An ACME-shaped TXT value (43 base64url characters)."""
    return base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()).decode()[:43]


def foreign(emulator: Any) -> dict[str, list[Any]]:
    return {
        d: sorted(
            (e.name, e.expire, e.type, e.content)
            for e in emulator.entries(d)
            if not e.name.startswith("_acme-challenge")
        )
        for d in emulator.domains
    }


def journalled(state: Path, text: str) -> Callable[[], bool]:
    """Whether the journal in ``state`` lists ``text`` (a present is about to POST it)."""
    return lambda: any(e["content"] == text for e in journal_entries(state))


def litter(state: Path) -> list[str]:
    """Temporary files and POST locks in the state dir."""
    return sorted(
        p.name
        for p in state.iterdir()
        if p.name.startswith(".acme-post-") or (p.name.startswith(".") and p.name.endswith(".tmp"))
    )


def age_files(state: Path, seconds: float) -> None:
    """Move the temporary files' times back (a minute must pass before they are litter)."""
    for path in state.iterdir():
        if path.name.startswith("."):
            stat = path.stat()
            os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


class Case:
    """What one case's processes printed and answered."""

    def __init__(self, tmp: Path, config: Path, listen: str) -> None:
        self.tmp, self.config, self.listen = tmp, config, listen
        self.outputs: list[str] = []
        self.server_errors = 0

    def hook(self, action: str, text: str) -> None:
        done = run(["-c", str(self.config), action, FQDN, text])
        self.outputs.append(done.stderr)

    def killed(self, args: list[str], after: float, once: Callable[[], Any] | None = None) -> None:
        """Start ``ddnsd ARGS``, SIGKILL it ``after`` seconds later (counted from when
        ``once`` holds, if given: say, the value is in the journal)."""
        log = self.tmp / f"killed-{len(self.outputs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*DDNSD, "-c", str(self.config), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")},
            )
            if once is not None:
                wait_for(lambda: once() or proc.poll() is not None, 30, "the victim's start")
            time.sleep(after)  # the random moment
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        self.outputs.append(log.read_text(errors="replace"))

    def daemon_killed_while_presenting(self, text: str, after: float) -> None:
        log = self.tmp / f"daemon-{len(self.outputs)}.log"
        url = f"http://{self.listen}"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*DDNSD, "-c", str(self.config), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")},
            )
            try:
                wait_for(lambda: _answers(url + "/healthz"), 30, "the daemon's listener")
                client = threading.Thread(target=self._httpreq_present, args=(url, text))
                client.start()
                time.sleep(after)  # the random moment
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            client.join(30)
        self.outputs.append(log.read_text(errors="replace"))

    def _httpreq_present(self, url: str, text: str) -> None:
        try:
            r = requests.post(
                url + "/acme/present",
                json={"fqdn": FQDN, "value": text},
                auth=("lego", HTTPREQ_PASSWORD),
                timeout=30,
            )
        except requests.RequestException:
            return  # killed before it answered
        self.server_errors += r.status_code == 500


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.slow(20)
@pytest.mark.timeout(900)  # the full campaign runs some 300 ddnsd processes; a hang guard only
def test_kills(emulator_factory: Any, tmp_path: Path, campaign_scale: int, figures: Any) -> None:
    cases = BASE_CASES * campaign_scale
    rng = random.Random(20240611)
    emulator = emulator_factory(fault_rate=0.4, seed=11, slow_seconds=SLOW)
    listen = f"127.0.0.1:{free_port()}"
    config = write_ddnsd_config(tmp_path, emulator, propagation_timeout=30, http_listen=listen)
    state = tmp_path / "state"
    before = foreign(emulator)
    case = Case(tmp_path, config, listen)

    for i in range(cases):
        victim, moment = rng.choice(("present", "cleanup", "daemon")), rng.uniform(0.05, SLOW)
        text = value(f"kill-{i}")
        if victim == "present":  # from when its value is journalled: its POST is on the way
            case.killed(["present", FQDN, text], moment, journalled(state, text))
            case.hook("cleanup", text)
        elif victim == "cleanup":
            case.hook("present", text)
            case.killed(["cleanup", FQDN, text], moment)
        else:
            case.daemon_killed_while_presenting(text, moment)

    injected = emulator.faults(rate=0.0)["injected"]
    time.sleep(SLOW + 0.5)  # requests held by a "slow" fault land now (the emulator's time)
    backdate_journal(state, 7200)
    age_files(state, 120)
    case.hook("cleanup", value("the next sweep"))  # any hook run sweeps first
    orphans = challenge_values(emulator)

    backdate_journal(state, 7200)  # the values it kept pending removal: their windows pass
    case.hook("cleanup", value("the sweep after"))
    tracebacks = sum(out.count("Traceback") for out in case.outputs)
    after = foreign(emulator)
    unintended = sum(len(set(after[d]) ^ set(before[d])) for d in before)

    figures(
        "kills (SIGKILL of present / cleanup / daemon under faults)",
        cases=cases,
        faults=injected,
        orphans=len(orphans),
        server_errors=case.server_errors,
        unintended_writes=unintended,
        tracebacks=tracebacks,
    )
    assert orphans == []
    assert journal_entries(state) == []
    assert litter(state) == []
    assert case.server_errors == 0
    assert unintended == 0
    assert tracebacks == 0, "\n".join(o for o in case.outputs if "Traceback" in o)[-4000:]
