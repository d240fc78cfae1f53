"""Every state file is input: corrupted as disk trouble, a clock step or a hand edit would
leave it, it never takes ddnsd down and never makes it delete what it does not own.

A table of corruptions, by the state files, by the commands that read them back (``once``,
``status``, an in-process hook, ``run`` with its status page), each against the emulator:
no traceback, the usual exit code, the page answers 200, the unusable files are set aside
as ``NAME.corrupt-<time>`` with a warning, and the zone keeps everything but challenge TXT
values.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from daemon_support import DaemonProcess, free_port, http_get, run, wait_for, write_config

from ddnsd.model import DnsEntry

if TYPE_CHECKING:
    from conftest import EmulatorHandle

FQDN = "_acme-challenge.example.test."
FOREIGN = DnsEntry("www", 300, "CNAME", "elsewhere.example.net.")
SECRET = "ROOT-ONLY-CONTENT"
# no acme.zones: the hook asks for the account's domains and keeps them in domains.json
ACME = '[acme]\npropagation_timeout = 30\npoll_interval = 0.1\nmax_age = "1s"\n'
YEAR_9999 = 253402300799.0


def _numbers(obj: Any, change: Callable[[float], Any]) -> Any:
    """``obj`` with ``change`` applied to every number (never a bool)."""
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int | float):
        return change(obj)
    if isinstance(obj, list):
        return [_numbers(v, change) for v in obj]
    if isinstance(obj, dict):
        return {k: _numbers(v, change) for k, v in obj.items()}
    return obj


def _wrong_types(obj: Any) -> Any:
    """Text where a number belongs, a list where a string belongs."""
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int | float):
        return "text"
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, list):
        return [_wrong_types(v) for v in obj]
    return {k: _wrong_types(v) for k, v in obj.items()}


def _each_document(name: str, data: bytes, change: Callable[[Any], Any]) -> bytes:
    """``change`` applied to the JSON document (to each line of a ``.jsonl``)."""
    if not name.endswith(".jsonl"):
        return json.dumps(change(json.loads(data))).encode()
    lines = [json.loads(x) for x in data.splitlines() if x.strip()]
    return b"\n".join(json.dumps(change(x)).encode() for x in lines) + b"\n"


def _foreign(name: str, data: bytes) -> bytes | None:
    """The journal names a foreign entry (``www CNAME``); the shared files another login."""
    if name != "acme-journal.json" and not name.startswith("transip-"):
        return None
    doc = json.loads(data)
    if name == "acme-journal.json":
        entry = {**doc["entries"][0], "name": "www", "type": "CNAME", "content": FOREIGN.content}
        doc["entries"] = [{**entry, "created": 1.0, "attempt": None, "writer": None}]
        return json.dumps(doc).encode()
    return json.dumps({**doc, "login": "someone-else"}).encode()


CORRUPTIONS: dict[str, Callable[[str, bytes], bytes | None]] = {
    "binary garbage": lambda name, data: b"\xff\xfe\x00\x9c garbage \x00" * 40,
    "infinity": lambda name, data: _each_document(
        name, data, lambda d: _numbers(d, lambda n: float("inf"))
    ).replace(b"Infinity", b"1e999"),
    "year 9999": lambda name, data: _each_document(
        name, data, lambda d: _numbers(d, lambda n: YEAR_9999 if n > 1e9 else n)
    ),
    "deep nesting": lambda name, data: b"[" * 100_000 + b"]" * 100_000,
    "wrong types": lambda name, data: _each_document(name, data, _wrong_types),
    "symlink": lambda name, data: b"",  # replaced by a link below
    "foreign entry": _foreign,
}


def state_files(state: Path) -> list[Path]:
    return sorted(
        p
        for p in state.iterdir()
        if p.is_file() and (p.suffix in (".json", ".jsonl")) and not p.name.startswith(".")
    )


def corrupt(state: Path, kind: str, secret: Path) -> list[str]:
    """Corrupt every state file in ``state`` the way ``kind`` says; the names changed."""
    changed = []
    for path in state_files(state):
        if kind == "symlink":
            path.unlink()
            path.symlink_to(secret)
        else:
            new = CORRUPTIONS[kind](path.name, path.read_bytes())
            if new is None:
                continue
            path.write_bytes(new)
        changed.append(path.name)
    return changed


def zone_but_challenges(emulator: EmulatorHandle) -> list[DnsEntry]:
    return sorted(
        (e for e in emulator.entries("example.test") if e.name != "_acme-challenge"),
        key=repr,
    )


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A root-only file of JSON lines a link in the state dir could point at."""
    path = tmp_path / "root-only.jsonl"
    line = {"at": 1.0, "kind": "failed", "record": None, "message": SECRET}
    path.write_text(json.dumps(line) + "\n")
    path.chmod(0o600)
    return path


def prepared(tmp_path: Path, emulator: EmulatorHandle) -> tuple[Path, Path, int]:
    """(config, state dir, http port) after ``once`` and a hook made every state file."""
    address = tmp_path / "address"
    address.write_text("192.0.2.10\n")
    port = free_port()
    config = write_config(
        tmp_path / "ddnsd.toml",
        emulator,
        address_file=address,
        extra=ACME,
        http_port=port,
    )
    config.write_text(config.read_text().replace("[http]\n", '[http]\nsocket = ""\n', 1))
    emulator.seed_entry("example.test", FOREIGN)
    assert run(["-c", str(config), "once"]).returncode == 0
    hook = run(["-c", str(config), "present", FQDN, "left-in-the-journal"])
    assert hook.returncode == 0, hook.stderr
    state = tmp_path / "state"
    names = {p.name for p in state_files(state)}
    for want in ("acme-journal.json", "records.json", "status.json", "history.jsonl"):
        assert want in names
    assert any(n.startswith("transip-budget-") for n in names)
    assert any(n.startswith("transip-token-") for n in names)
    assert "domains.json" in names
    return config, state, port


def run_command(command: str, config: Path, port: int) -> tuple[int, str]:
    """(exit code, everything it printed); for ``run``, also the page's status."""
    if command == "run":
        started = time.time()
        daemon = DaemonProcess(config)
        try:

            def page() -> int | None:
                assert daemon.proc.poll() is None, daemon.log
                try:
                    return http_get(f"http://127.0.0.1:{port}/").status_code
                except OSError:
                    return None

            status = wait_for(page, what="the status page")

            def after_a_round() -> Any:  # the round that reads records.json, budget, token
                api = http_get(f"http://127.0.0.1:{port}/api/status")
                at = api.json()["last_round"]["at"]
                return api if at is not None and at >= started else None

            api = wait_for(after_a_round, what="a round of this daemon")
        finally:
            code = daemon.stop()
        return code, f"page {status}\napi {api.status_code}\n{api.text}\n{daemon.log}"
    args = {
        "once": ["once"],
        "status": ["status"],
        "hook": ["present", FQDN, "after-the-corruption"],
    }[command]
    proc = run(["-c", str(config), *args])
    return proc.returncode, proc.stdout + proc.stderr


EXIT = {"once": {0}, "status": {0, 1}, "hook": {0}, "run": {0}}


@pytest.mark.slow(120)
@pytest.mark.parametrize("command", ["once", "status", "hook", "run"])
@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_corrupt_state_dir_never_takes_ddnsd_down(
    emulator: EmulatorHandle, tmp_path: Path, secret: Path, kind: str, command: str
) -> None:
    config, state, port = prepared(tmp_path, emulator)
    before = zone_but_challenges(emulator)
    secret_before = secret.read_bytes()
    changed = corrupt(state, kind, secret)
    assert changed

    code, output = run_command(command, config, port)

    assert "Traceback" not in output, output
    assert code in EXIT[command], output
    if command == "run":
        assert output.startswith("page 200\napi 200\n"), output[:2000]
    assert SECRET not in output
    aside = {p.name.split(".corrupt-")[0] for p in state.iterdir() if ".corrupt-" in p.name}
    assert aside <= set(changed)
    if not (kind == "foreign entry" and command == "status"):  # it reads no file changed
        assert "set aside " in output, output
        assert aside
    assert all(not (state / name).is_symlink() for name in aside)
    assert zone_but_challenges(emulator) == before  # www CNAME and home A stay
    assert secret.read_bytes() == secret_before and not secret.is_symlink()
    if command == "status":
        listed = run(["-c", str(config), "status", "--json"])
        doc = json.loads(listed.stdout)
        assert sorted(doc["set_aside"]) == sorted(
            p.name for p in state.iterdir() if ".corrupt-" in p.name
        )
