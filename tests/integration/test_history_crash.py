"""The history after a crash: SIGKILL in the middle of writing leaves a file that loads;
ACME hooks write their challenges into the same history."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from daemon_support import run, wait_for, write_config

from ddnsd.observe.events import event
from ddnsd.observe.history import History
from ddnsd.statedir import StateDir

WRITER = """
import sys
from ddnsd.observe.events import event
from ddnsd.observe.history import History
from ddnsd.statedir import StateDir

h = History(StateDir(sys.argv[1]), 65536)
i = 0
while True:
    note = "x" * (i % 400)  # lines of many lengths, so a kill can land anywhere
    h.append(event("failed", float(i), record="home.example.test/A", message=note))
    i += 1
"""


def test_sigkill_while_writing_leaves_a_history_that_loads(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
    try:
        history = History(StateDir(tmp_path), 65536)

        def rotated_and_grown() -> bool:
            try:  # the file is briefly missing while the writer rotates it
                return history.rotated.exists() and history.path.stat().st_size > 8192
            except FileNotFoundError:
                return False

        wait_for(rotated_and_grown, what="the writer to rotate once and write on")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    events = History(StateDir(tmp_path), 65536).events()
    assert len(events) > 10
    assert all(e.kind == "failed" and set(e.fields) == {"record", "message"} for e in events)
    ats = [e.at for e in events]
    assert ats == sorted(ats)
    assert History(StateDir(tmp_path)).size() <= 65536
    # the lock died with the writer: the next process appends and reads its own event back
    after = History(StateDir(tmp_path), 65536)
    assert after.append(event("stopped", 2e11, pid=os.getpid()))
    assert after.events()[-1].at == 2e11


def test_hooks_write_their_challenges_to_the_history(emulator: Any, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", emulator)
    fqdn, value = "_acme-challenge.example.test", "w" * 43
    assert run(["-c", str(cfg), "present", fqdn, value]).returncode == 0
    assert run(["-c", str(cfg), "cleanup", fqdn, value]).returncode == 0
    events = History(StateDir(tmp_path / "state")).events()
    assert [e.kind for e in events] == ["challenge_added", "challenge_served", "challenge_removed"]
    served = events[1]
    assert served.get("name") == fqdn
    assert len(served.get("nameservers")) == 1  # seconds for each nameserver asked
    assert served.get("seconds") >= 0
    status = run(["-c", str(cfg), "status", "--json"])
    assert '"challenge_served"' in status.stdout
