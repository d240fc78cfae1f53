"""Campaign "faults": ``ddnsd run`` follows address changes while the emulator injects one
fault kind into half of all writes, for every kind (500, 409 "being saved", slow, lost).

Per kind: a daemon keeps ``home.example.test`` and ``home.other.test`` (A) in step with an
address file and a ``[transip] timeout`` shorter than a slow fault (so a slow write times
out and may land later). Each case changes the address and waits until both records hold
it. Counted: injected faults by kind, 5xx answered by the daemon's ``/healthz`` and
``/metrics``, unintended writes (a duplicate record, a changed foreign entry) and
tracebacks in the daemon's log. Quick: 2 changes per kind; full: 20.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest
import requests
from daemon_support import DaemonProcess, free_port, wait_for, write_config

from ddnsd.emulator.faults import FAULT_KINDS

BASE_CHANGES = 2
RECORDS = """
[[records]]
domain = "example.test"
name = "home"
type = "A"
ttl = 300

[[records]]
domain = "other.test"
name = "home"
type = "A"
ttl = 300
"""


def records(emulator: Any) -> dict[str, list[str]]:
    return {
        d: [e.content for e in emulator.entries(d) if e.name == "home" and e.type == "A"]
        for d in ("example.test", "other.test")
    }


def foreign(emulator: Any) -> set[tuple[str, str, int, str, str]]:
    return {
        (d, e.name, e.expire, e.type, e.content)
        for d in ("example.test", "other.test")
        for e in emulator.entries(d)
        if e.name != "home"
    }


def server_errors(url: str) -> int:
    paths = ("/healthz", "/metrics")
    return sum(requests.get(url + path, timeout=10).status_code >= 500 for path in paths)


def converged(emulator: Any, address: str) -> Any:
    return lambda: records(emulator) == {"example.test": [address], "other.test": [address]}


@pytest.mark.slow(13)
def test_faults(emulator_factory: Any, tmp_path: Path, campaign_scale: int, figures: Any) -> None:
    changes = BASE_CHANGES * campaign_scale
    injected: collections.Counter[str] = collections.Counter()
    errors = unintended = tracebacks = cases = 0
    for n, kind in enumerate(FAULT_KINDS):
        emulator = emulator_factory(fault_rate=0.5, fault_kinds=(kind,), seed=n, slow_seconds=1.5)
        work = tmp_path / kind
        work.mkdir()
        address = work / "address"
        address.write_text("203.0.113.1\n")
        port = free_port()
        config = write_config(
            work / "ddnsd.toml", emulator, address_file=address, records=RECORDS, http_port=port
        )
        before = foreign(emulator)
        daemon = DaemonProcess(config, env={"DDNSD_TRANSIP__TIMEOUT": "1s"})
        try:
            for i in range(changes):
                want = f"203.0.113.{10 + i}"
                address.write_text(want + "\n")  # a round every second reads it
                wait_for(converged(emulator, want), 90, f"both records at {want} ({kind} faults)")
                errors += server_errors(f"http://127.0.0.1:{port}")
                cases += 1
        finally:
            assert daemon.stop() == 0
        injected.update(emulator.faults()["injected"])
        unintended += len(foreign(emulator) ^ before)
        tracebacks += daemon.log.count("Traceback")

    figures(
        "faults (daemon rounds, 50 % of writes faulted, per kind)",
        cases=cases,
        faults=dict(injected),
        server_errors=errors,
        unintended_writes=unintended,
        tracebacks=tracebacks,
    )
    assert set(injected) == set(FAULT_KINDS)  # every kind really hit the daemon
    assert (errors, unintended, tracebacks) == (0, 0, 0)
