"""ddnsd.statefiles: atomic writes, and which files in the state dir a killed process left
behind (ownership across users: tests/integration/test_two_users.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pydantic
import pytest

from ddnsd.readback import MAX_BYTES, Int, Time, read_back
from ddnsd.statedir import StateDir
from ddnsd.statefiles import LITTER_AGE, is_litter, make_dir, remove_litter, temp_path, write_atomic


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
        pytest.param(f".status.json.{DEAD}-0a1b2c3d.tmp", OLD, True, id="dead-pid-and-random"),
        pytest.param(f".status.json.{LIVE}-0a1b2c3d.tmp", OLD, False, id="live-pid-and-random"),
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
    write_atomic(tmp_path / "state.json", "{}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert (tmp_path / "state.json").read_bytes() == b"{}\n"


@pytest.mark.parametrize("durable", [False, True])
def test_write_atomic_replaces_the_file_with_mode_0600(tmp_path: Path, durable: bool) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    path.chmod(0o644)
    write_atomic(path, "new", durable=durable)
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_temp_file_names_its_writer() -> None:
    """remove_litter tells a live writer's temp file from a dead one's by the pid in it."""
    name = os.path.basename(temp_path(Path("/state/acme-journal.json")))
    assert name.startswith(f".acme-journal.json.{os.getpid()}-") and name.endswith(".tmp")
    assert name != os.path.basename(temp_path(Path("/state/acme-journal.json")))  # two threads
    assert is_litter(name.replace(str(os.getpid()), str(LIVE), 1), OLD) is False
    assert is_litter(name.replace(str(os.getpid()), str(DEAD), 1), OLD) is True


def test_remove_litter_asks_about_old_files_only_and_keeps_the_rest(tmp_path: Path) -> None:
    now = 10_000.0
    for name, age in [
        (f".a.json.{DEAD}.tmp", OLD),
        (".call-1.lock", OLD),
        (".call-2.lock", OLD),
        (".call-3.lock", 5.0),
        ("a.json", OLD),
    ]:
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (now - age, now - age))
    asked: list[str] = []

    def unheld(name: str) -> bool:
        asked.append(name)
        if name != ".call-1.lock":
            return False
        (tmp_path / name).unlink()
        return True

    removed = remove_litter(tmp_path, unheld_lock=unheld, now=now)
    assert sorted(removed) == [f".a.json.{DEAD}.tmp", ".call-1.lock"]
    assert ".call-3.lock" not in asked  # younger than LITTER_AGE
    assert sorted(p.name for p in tmp_path.iterdir()) == [".call-2.lock", ".call-3.lock", "a.json"]


@pytest.mark.parametrize("made", ["a directory", "a file"])
def test_make_dir_when_another_process_makes_a_level_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: str
) -> None:
    """Another process creates ``a`` between make_dir's look and its mkdir: a directory is
    used as it is, a file is the error ``mkdir -p`` would give."""
    real_mkdir = os.mkdir

    def racing_mkdir(name: str, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        if name == "a":
            if made == "a directory":
                (tmp_path / "a").mkdir()
            else:
                (tmp_path / "a").write_text("")
        real_mkdir(name, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "mkdir", racing_mkdir)
    if made == "a file":
        with pytest.raises(NotADirectoryError):
            make_dir(tmp_path / "a" / "b")
        return
    make_dir(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o700 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Doc(pydantic.BaseModel):
    at: Time
    n: Annotated[Int, pydantic.Field(ge=0, le=10)]


def _link(path: Path) -> None:
    target = path.with_name("elsewhere.json")
    target.write_text('{"at": 1.0, "n": 1}')
    path.symlink_to(target)


def _foreign_owner(path: Path) -> None:
    path.write_text('{"at": 1.0, "n": 1}')
    os.chown(path, 65534, 65534)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


# (id, how the file is made, the reason the warning gives; None: the file is used)
READ_BACK = [
    ("good", lambda p: p.write_text('{"at": 1.0, "n": 1}'), None),
    ("binary", lambda p: p.write_bytes(b"\xff\xfe\x00"), "it is not text (UTF-8)"),
    ("not JSON", lambda p: p.write_text("{"), "it is not JSON"),
    ("NaN", lambda p: p.write_text('{"at": NaN, "n": 1}'), "NaN is not a number"),
    ("1e999", lambda p: p.write_text('{"at": 1e999, "n": 1}'), "a number out of range"),
    ("deep", lambda p: p.write_text("[" * 100_000), "it is nested too deep"),
    ("too large", lambda p: p.write_text(" " * (MAX_BYTES + 1)), "it is larger than"),
    ("year 9999", lambda p: p.write_text('{"at": 253402300799.0, "n": 1}'), "at: Value"),
    ("a day ahead", lambda p: p.write_text('{"at": 1086400.5, "n": 1}'), "ahead"),
    ("text for a number", lambda p: p.write_text('{"at": "1", "n": 1}'), "at: Input"),
    ("bool for a number", lambda p: p.write_text('{"at": 1.0, "n": true}'), "n: Input"),
    ("out of range", lambda p: p.write_text('{"at": 1.0, "n": 11}'), "n: Input"),
    ("a list", lambda p: p.write_text("[]"), "the content: Input"),
    ("symbolic link", _link, "it is a symbolic link"),
    ("a FIFO", _fifo, "it is not a regular file"),
    ("another user's", _foreign_owner, "it belongs to uid 65534"),
]


@pytest.mark.parametrize(
    ("make", "reason"), [c[1:] for c in READ_BACK], ids=[c[0] for c in READ_BACK]
)
def test_read_back_uses_a_good_file_and_sets_anything_else_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make: Any, reason: str | None
) -> None:
    if reason is not None and "uid" in reason and os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    path = tmp_path / "state.json"
    make(path)
    got = read_back(path, _Doc, advice="do this", context={"now": 1_000_000.0})
    aside = list(tmp_path.glob("state.json.corrupt-*"))
    if reason is None:
        assert got == _Doc(at=1.0, n=1) and aside == [] and caplog.records == []
        return
    assert got is None
    assert not path.exists() and not path.is_symlink() and len(aside) == 1
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"set aside {path} as {aside[0].name}: ")
    assert reason in warning and warning.endswith("; do this")
    assert StateDir(tmp_path).set_aside_files() == [aside[0].name]
    if reason.startswith("it is a symbolic link"):
        assert aside[0].is_symlink()  # the link was moved, never its target
        assert (tmp_path / "elsewhere.json").read_text() == '{"at": 1.0, "n": 1}'
