"""ddnsd.reconcile.memory: the engine's memory in the state dir, as ``run`` and ``once``
processes share it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ddnsd.reconcile.memory import Memory, SeenValue
from ddnsd.statedir import StateDir

FILE = StateDir.RECORDS

HOME = "home.example.test/A"
OFFICE = "office.other.test/A"


def memory(state: Path | None, key: str = HOME, domain: str = "example.test") -> Memory:
    return Memory(state and StateDir(state), [key], [domain])


def test_what_one_process_saves_the_next_one_loads(tmp_path: Path) -> None:
    run = Memory(StateDir(tmp_path), [HOME, OFFICE], ["example.test"])
    run.load()
    run.known.seen[HOME] = SeenValue("203.0.113.1", 1000.0, 300)
    run.known.seen[OFFICE] = SeenValue("198.51.100.1", 1000.0)  # expire unknown
    run.known.verified["example.test"] = 990.0
    run.known.first_seen["example.test"] = 900.0
    run.known.conflicts[HOME] = ("192.0.2.1", "192.0.2.2")
    run.known.waiting[HOME] = 950.0
    run.save()

    once = Memory(StateDir(tmp_path), [HOME, OFFICE], ["example.test"])
    once.load()
    assert once.known == run.known


def test_another_configurations_records_are_kept(tmp_path: Path) -> None:
    mine, theirs = memory(tmp_path), memory(tmp_path, OFFICE, "other.test")
    theirs.known.seen[OFFICE] = SeenValue("198.51.100.1", 5.0)
    theirs.save()
    mine.known.seen[HOME] = SeenValue("203.0.113.1", 6.0)
    mine.save()
    data = json.loads((tmp_path / FILE).read_text())
    assert set(data["records"]) == {HOME, OFFICE}


def test_nothing_changed_nothing_written(tmp_path: Path) -> None:
    m = memory(tmp_path)
    m.known.first_seen["example.test"] = 1.0
    m.save()
    before = (tmp_path / FILE).stat().st_mtime_ns
    (tmp_path / FILE).touch()  # another process wrote (same content): re-read, no write
    m.load()
    m.save()
    after = memory(tmp_path)
    after.load()
    assert after.known.first_seen == {"example.test": 1.0}
    assert (tmp_path / FILE).stat().st_mtime_ns >= before


def seen_with(expire: object) -> str:
    item = {"content": "203.0.113.1", "at": 1.0, "expire": expire}
    return json.dumps({"records": {HOME: item}})


@pytest.mark.parametrize(
    "content",
    [
        "{broken",
        "[]",
        '{"records": {"home.example.test/A": {"content": "x"}}}',
        seen_with("300"),
        seen_with(True),
        seen_with(0),
        seen_with(-300),
        seen_with(300.5),
    ],
    ids=["json", "list", "no at", "expire text", "expire bool", "expire 0", "expire <0", "float"],
)
def test_a_corrupt_file_is_started_afresh(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE).write_text(content)
    m = memory(tmp_path)
    m.load()
    assert m.known.seen == {}
    m.known.seen[HOME] = SeenValue("203.0.113.1", 1.0)
    m.save()
    assert json.loads((tmp_path / FILE).read_text())["records"][HOME]["content"] == "203.0.113.1"
    [aside] = tmp_path.glob(f"{FILE}.corrupt-*")
    assert aside.read_text() == content
    assert any(
        r.getMessage().startswith(f"set aside {tmp_path / FILE} as {aside.name}: ")
        for r in caplog.records
    )


def test_an_unusable_state_dir_keeps_the_memory_in_the_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "a-file"
    state.write_text("")
    m = memory(state)
    caplog.set_level(logging.WARNING)
    for i in range(3):
        m.load()
        m.known.seen[HOME] = SeenValue("203.0.113.1", float(i))
        m.save()
    assert m.known.seen[HOME] == SeenValue("203.0.113.1", 2.0)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "remembering in this process only" in warned[0]


def test_without_a_state_dir_nothing_is_written(tmp_path: Path) -> None:
    m = memory(None)
    m.known.seen[HOME] = SeenValue("203.0.113.1", 1.0)
    m.save()
    m.load()
    assert m.known.seen[HOME] == SeenValue("203.0.113.1", 1.0)
    assert list(tmp_path.iterdir()) == []


def test_a_save_keeps_what_another_process_wrote_meanwhile(tmp_path: Path) -> None:
    """The daemon loaded, then a ``once`` wrote record X; the daemon then changes only Y and
    saves: X keeps the once's value (in the file and in the daemon's memory)."""
    keys, domains = [HOME, OFFICE], ["example.test"]
    daemon = Memory(StateDir(tmp_path), keys, domains)
    daemon.known.seen[HOME] = SeenValue("203.0.113.1", 1.0)
    daemon.save()
    once = Memory(StateDir(tmp_path), keys, domains)
    once.load()
    once.known.seen[HOME] = SeenValue("203.0.113.2", 2.0, 300)
    once.save()

    daemon.known.seen[OFFICE] = SeenValue("198.51.100.1", 3.0)
    daemon.save()

    after = Memory(StateDir(tmp_path), keys, domains)
    after.load()
    assert after.known.seen == {
        HOME: SeenValue("203.0.113.2", 2.0, 300),
        OFFICE: SeenValue("198.51.100.1", 3.0),
    }
    assert daemon.known.seen == after.known.seen


def test_a_record_this_process_forgot_leaves_the_file(tmp_path: Path) -> None:
    m = memory(tmp_path)
    m.known.seen[HOME] = SeenValue("203.0.113.1", 1.0)
    m.save()
    del m.known.seen[HOME]
    m.save()
    again = memory(tmp_path)
    again.load()
    assert again.known.seen == {}
