"""A steady round leaves nothing behind: no file name built afresh goes through pathlib.

Issue 16 item 6: ``ddnsd run`` grew by one step of ~1 MiB after some 8,000 rounds, then
again after ~16,000 once the first cause was fixed. CPython's pathlib interns every name
it parses (``sys.intern``), and an interned string dies with its last user; a name built
anew each round (the status file's temporary name, the budget's lock name) therefore took
a fresh slot in the interpreter's table of interned strings every round until the table
was rebuilt larger. The RSS line itself is measured by ``python -m bench ddns-rss``; this
test holds the cause, on a real daemon round against the emulator (docs/design.md,
"Memory").
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_support import write_config

from ddnsd.config.read import load
from ddnsd.daemon import Daemon
from ddnsd.handoff.protocol import HookRequest


def _interned_before(name: str, intern: Any) -> bool:
    """Whether a live interned string equal to ``name`` exists (a copy of ``name`` that is
    not interned comes back as another object then); asking keeps nothing alive."""
    copy = "".join(list(name))  # a new object with the same characters
    return intern(copy) is not copy


@contextlib.contextmanager
def new_interned_names(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names ``sys.intern`` adds to the interpreter's table during the block (copies)."""
    real_intern = sys.intern
    added: list[str] = []

    def watching_intern(name: str) -> str:
        if not _interned_before(name, real_intern):
            added.append("".join(list(name)))  # a copy: the original may die
        return real_intern(name)

    with monkeypatch.context() as m:
        m.setattr(sys, "intern", watching_intern)
        yield added


def test_a_steady_round_interns_no_new_name(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.40\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr)
    daemon = Daemon(load(str(cfg)), str(cfg))
    assert daemon.round() is True  # the first round writes the record
    assert daemon.round() is True  # and a second one warms what is made once
    before = emulator.request_count()
    with new_interned_names(monkeypatch) as added:
        for _ in range(5):
            assert daemon.round() is True
    assert emulator.request_count() == before  # steady: nothing changed, nothing sent
    assert added == []


def test_a_challenge_handed_to_the_daemon_interns_no_new_name(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each hook request writes the journal and takes a POST's lock: names new per call."""
    cfg = write_config(tmp_path / "c.toml", emulator, records="")
    daemon = Daemon(load(str(cfg)), str(cfg))
    fqdn = "_acme-challenge.example.test"

    def challenge() -> None:
        value = secrets.token_urlsafe(32)
        for command in ("present", "cleanup"):
            assert daemon.acme_work.run(HookRequest(command, (fqdn, value))) == (0, [])

    challenge()
    challenge()
    with new_interned_names(monkeypatch) as added:
        for _ in range(3):
            challenge()
    assert added == []
    assert [e for e in emulator.entries("example.test") if e.name == "_acme-challenge"] == []
