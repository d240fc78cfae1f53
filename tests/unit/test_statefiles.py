"""ddnsd.statefiles: which temporary files in the state dir a killed process left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ddnsd.statefiles import LITTER_AGE, is_litter, write_atomic


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


DEAD = _dead_pid()
LIVE = os.getppid()  # the test runner's parent: alive while the test runs
OLD = LITTER_AGE + 1


@pytest.mark.parametrize(
    ("name", "age", "litter"),
    [
        pytest.param(f".acme-journal.json.{DEAD}.tmp", OLD, True, id="journal-of-a-dead-pid"),
        pytest.param(f".domains.json.{DEAD}.tmp", OLD, True, id="domains-of-a-dead-pid"),
        pytest.param(".transip-token-k2j4h5.tmp", OLD, True, id="token-cache-no-pid"),
        pytest.param(f".acme-journal.json.{os.getpid()}.tmp", OLD, True, id="an-earlier-us"),
        pytest.param(f".acme-journal.json.{LIVE}.tmp", OLD, False, id="another-live-process"),
        pytest.param(f".acme-journal.json.{DEAD}.tmp", 5.0, False, id="younger-than-a-minute"),
        pytest.param("acme-journal.json", OLD, False, id="the-journal-itself"),
        pytest.param(".acme-journal.json.123.swp", OLD, False, id="not-a-tmp"),
        pytest.param("notes.tmp", OLD, False, id="not-hidden"),
    ],
)
def test_is_litter(name: str, age: float, litter: bool) -> None:
    assert is_litter(name, age) is litter


def test_write_atomic_leaves_only_the_file(tmp_path: Path) -> None:
    write_atomic(tmp_path / "state.json", b"{}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert (tmp_path / "state.json").read_bytes() == b"{}\n"
