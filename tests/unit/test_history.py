"""The event history file: parsing, torn lines, rotation within the bound, restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddnsd.observe.events import Event, event
from ddnsd.observe.history import History, parse_lines
from ddnsd.statedir import StateDir


def addr(at: float, new: str = "203.0.113.7") -> Event:
    return event("address", at, family="ipv4", old=None, new=new, sources=["static:x"])


GOOD = b'{"at":1,"kind":"stopped","pid":7}'


@pytest.mark.parametrize(
    ("data", "kinds"),
    [
        (b"", []),
        (GOOD + b"\n", ["stopped"]),
        (GOOD + b"\n" + GOOD[:12], ["stopped"]),  # torn last line
        (GOOD[:20] + b"\n" + GOOD + b"\n", ["stopped"]),  # torn line, then a new one
        (b"garbage\n" + GOOD + b"\n", ["stopped"]),
        (b"[1,2]\n" + GOOD + b"\n", ["stopped"]),  # JSON, not an event
        (b'{"at":true,"kind":"x"}\n' + GOOD + b"\n", ["stopped"]),  # a bool is no time
        (b'{"at":1}\n{"kind":"x"}\n', []),
        (b'{"at":2,"kind":"from_a_later_version","x":1}\n', ["from_a_later_version"]),
        (b"\xff\xfe\n" + GOOD + b"\n", ["stopped"]),  # not UTF-8
        (GOOD + b"\r\n" + GOOD + b"\n", ["stopped", "stopped"]),
    ],
    ids=[
        "empty",
        "one",
        "torn-tail",
        "torn-middle",
        "garbage",
        "not-an-object",
        "bool-time",
        "missing-fields",
        "unknown-kind-kept",
        "not-utf8",
        "crlf",
    ],
)
def test_parse_lines(data: bytes, kinds: list[str]) -> None:
    assert [e.kind for e in parse_lines(data)] == kinds


def test_events_survive_a_new_instance(tmp_path: Path) -> None:
    History(StateDir(tmp_path)).append(addr(1.0))
    History(StateDir(tmp_path)).append(addr(2.0, "203.0.113.8"))
    got = History(StateDir(tmp_path)).events()
    assert [(e.at, e.get("new")) for e in got] == [(1.0, "203.0.113.7"), (2.0, "203.0.113.8")]
    assert History(StateDir(tmp_path)).events(since=1.5) == got[1:]
    assert (tmp_path / "history.jsonl").stat().st_mode & 0o777 == 0o600


def test_append_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    h = History(StateDir(tmp_path))
    h.append(addr(1.0))
    with h.path.open("ab") as fh:
        fh.write(b'{"at":2,"kind":"addr')  # a crash in the middle of a line
    h.append(addr(3.0))
    assert [e.at for e in History(StateDir(tmp_path)).events()] == [1.0, 3.0]


@pytest.mark.parametrize("max_bytes", [2048, 4096, 65536])
def test_rotation_keeps_the_bound(tmp_path: Path, max_bytes: int) -> None:
    h = History(StateDir(tmp_path), max_bytes)
    for i in range(max_bytes // 40):  # several times what fits
        assert h.append(addr(float(i), f"203.0.113.{i % 250}"))
        assert h.size() <= max_bytes
    assert h.rotated.exists()
    kept = h.events()
    assert kept[-1].at == float(max_bytes // 40 - 1)  # the newest is always kept
    assert [e.at for e in kept] == sorted(e.at for e in kept)  # oldest first, no gap inside
    assert len(kept) == kept[-1].at - kept[0].at + 1


def test_a_history_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    h = History(StateDir(blocker / "state"))
    assert h.append(addr(1.0)) is False
    assert h.events() == []


def test_refuses_a_bound_too_small_to_hold_an_event(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2048 bytes"):
        History(StateDir(tmp_path), 100)


def test_a_lowered_bound_keeps_the_files_written_under_the_old_one(tmp_path: Path) -> None:
    """``[state] history_bytes`` lowered from 4 MiB to 64 KiB: the files the old bound let
    grow are ddnsd's own, read as they are (not set aside as "corrupt")."""
    big = History(StateDir(tmp_path), 4 * 1024 * 1024)
    for i in range(2500):  # some 120 KiB: over the new bound, within the old one
        big.append(addr(float(i)))
    assert big.path.stat().st_size > 65536
    small = History(StateDir(tmp_path), 65536)
    assert [e.at for e in small.events()][-1] == 2499.0
    assert sorted(p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name) == []
