"""ddnsd.acme.journal: atomic, locked read-modify-write and the cleanup-owner lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ddnsd.acme.journal import Journal
from ddnsd.errors import DdnsdError
from ddnsd.model import DnsEntry
from ddnsd.statedir import StateDir

APEX = DnsEntry("_acme-challenge", 60, "TXT", "apex-value")
WILD = DnsEntry("_acme-challenge", 60, "TXT", "wildcard-value")
FQDN = "_acme-challenge.example.test"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_add_writes_all_fields(tmp_path: Path) -> None:
    journal = Journal(StateDir(tmp_path), clock=FakeClock(1234.5))
    journal.add("example.test", APEX, "_acme-challenge.example.test")
    data = json.loads((tmp_path / "acme-journal.json").read_text())
    assert data["entries"] == [
        {
            "domain": "example.test",
            "name": "_acme-challenge",
            "expire": 60,
            "type": "TXT",
            "content": "apex-value",
            "fqdn": "_acme-challenge.example.test",
            "created": 1234.5,
            "attempt": None,
            "writer": None,
            "window": 70.0,
            "pending_removal": False,
        }
    ]


def test_two_values_at_one_name_coexist_and_remove_takes_one(tmp_path: Path) -> None:
    journal = Journal(StateDir(tmp_path))
    journal.add("example.test", APEX, "_acme-challenge.example.test")
    journal.add("example.test", WILD, "_acme-challenge.example.test")
    assert [e.content for e in journal.entries()] == ["apex-value", "wildcard-value"]
    assert journal.remove("example.test", APEX) is True
    assert [e.content for e in journal.entries()] == ["wildcard-value"]
    assert journal.remove("example.test", APEX) is False


def test_same_value_twice_is_recorded_once(tmp_path: Path) -> None:
    journal = Journal(StateDir(tmp_path))
    journal.add("example.test", APEX, "_acme-challenge.example.test")
    journal.add("example.test", APEX, "_acme-challenge.example.test")
    assert len(journal.entries()) == 1


def test_remove_ignores_expire_and_set_expire_changes_it(tmp_path: Path) -> None:
    journal = Journal(StateDir(tmp_path))
    journal.add("example.test", APEX, "_acme-challenge.example.test")
    journal.set_expire("example.test", APEX, 300)
    assert journal.entries()[0].entry == DnsEntry("_acme-challenge", 300, "TXT", "apex-value")
    assert journal.remove("example.test", DnsEntry("_acme-challenge", 300, "TXT", "apex-value"))
    assert journal.entries() == []


@pytest.mark.parametrize(
    ("ages", "max_age", "stale"),
    [
        pytest.param([], 3600, [], id="empty"),
        pytest.param([10, 3599], 3600, [], id="young"),
        pytest.param([3601, 10], 3600, [0], id="one-old"),
        pytest.param([7200, 5000], 3600, [0, 1], id="all-old"),
    ],
)
def test_stale(tmp_path: Path, ages: list[float], max_age: float, stale: list[int]) -> None:
    clock = FakeClock()
    journal = Journal(StateDir(tmp_path), clock=clock)
    start = clock.now
    for i, age in enumerate(ages):
        clock.now = start - age
        journal.add("example.test", DnsEntry("_acme-challenge", 60, "TXT", f"v{i}"), FQDN)
    clock.now = start
    assert [e.content for e in journal.sweepable(max_age)] == [f"v{i}" for i in stale]


def test_failed_write_keeps_the_old_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(StateDir(tmp_path))
    journal.add("example.test", APEX, "_acme-challenge.example.test")
    before = (tmp_path / "acme-journal.json").read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(DdnsdError, match=r"cannot write the ACME journal .*No space left"):
        journal.add("example.test", WILD, "_acme-challenge.example.test")
    assert (tmp_path / "acme-journal.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme-journal.json", "acme.lock"]


def test_an_unreadable_journal_is_set_aside_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "acme-journal.json").write_bytes(b"{not json")
    journal = Journal(StateDir(tmp_path))
    assert journal.entries() == []
    [aside] = tmp_path.glob("acme-journal.json.corrupt-*")
    assert aside.read_bytes() == b"{not json"  # kept as it was, for the operator
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"set aside {tmp_path}/acme-journal.json as {aside.name}: ")
    assert warning.endswith(
        "; the TXT values it listed are no longer cleaned up by ddnsd: look at it, remove "
        "any _acme-challenge TXT value left in the zone by hand, then delete it"
    )
    journal.add("example.test", DnsEntry("_acme-challenge", 60, "TXT", "v"), FQDN)
    assert [e.content for e in journal.entries()] == ["v"]


def _add_many(state_dir: str, worker: int, count: int) -> None:
    journal = Journal(StateDir(Path(state_dir)))
    for i in range(count):
        journal.add("example.test", DnsEntry("_acme-challenge", 60, "TXT", f"w{worker}-{i}"), FQDN)


def test_concurrent_processes_lose_no_entry(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_many, args=(str(tmp_path), w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    contents = {e.content for e in Journal(StateDir(tmp_path)).entries()}
    assert contents == {f"w{w}-{i}" for w in range(4) for i in range(15)}


def test_cleanup_owner_is_one_process_at_a_time(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from pathlib import Path
                from ddnsd.acme.journal import Journal
                from ddnsd.statedir import StateDir
                print(Journal(StateDir(Path({str(tmp_path)!r}))).claim_cleanup_owner(), flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "True"
        journal = Journal(StateDir(tmp_path))
        assert journal.claim_cleanup_owner() is False
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(30)
        assert journal.claim_cleanup_owner() is True
        # The same process keeps owning it, through any Journal object for that directory.
        assert Journal(StateDir(tmp_path)).claim_cleanup_owner() is True
    finally:
        if holder.poll() is None:
            holder.kill()
        Journal(StateDir(tmp_path)).release_cleanup_owner()


def _claim_in_child(state_dir: Path) -> bool:
    code = (
        "import sys; from pathlib import Path; from ddnsd.acme.journal import Journal; "
        "from ddnsd.statedir import StateDir; "
        f"print(Journal(StateDir(Path({str(state_dir)!r}))).claim_cleanup_owner())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def test_a_sweep_holds_the_owner_lock_only_while_it_runs(tmp_path: Path) -> None:
    journal = Journal(StateDir(tmp_path))
    with journal.cleanup_owner() as owner:
        assert owner is True
        assert _claim_in_child(tmp_path) is False
    assert _claim_in_child(tmp_path) is True


def test_a_claimed_owner_lock_outlives_a_sweep(tmp_path: Path) -> None:
    journal = Journal(StateDir(tmp_path))
    try:
        assert journal.claim_cleanup_owner() is True
        with journal.cleanup_owner() as owner:
            assert owner is True
        assert _claim_in_child(tmp_path) is False
    finally:
        journal.release_cleanup_owner()
