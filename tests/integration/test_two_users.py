"""Two real users, one state directory: the daemon's (``nobody``) and root's (certbot's hooks).

certbot runs ``ddnsd hook`` as root; ``ddnsd run`` and ``ddnsd-once.timer`` run as the unit's
user. With a daemon, root's hooks hand it their work; without one, whatever root's hooks
create in that user's state directory must stay usable by it. A user the daemon does not
serve is told so, and what to change.
"""

from __future__ import annotations

import dataclasses
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from acme_support import backdate_journal
from daemon_support import DaemonProcess, run, wait_for, write_config
from test_hook_socket import served_hooks
from uid_support import Shared, require_root, shared_dir

if TYPE_CHECKING:
    from conftest import EmulatorHandle

FQDN = "_acme-challenge.example.test."


@pytest.fixture
def shared(emulator: EmulatorHandle) -> Iterator[Shared]:
    yield from shared_dir(emulator.private_key_path)


def configs(shared: Shared, emulator: EmulatorHandle) -> tuple[Path, Path]:
    """The hooks' config and the daemon's: one state dir and key, the daemon sweeps at once."""
    emulator = dataclasses.replace(emulator, private_key_path=shared.key)
    address = shared.root / "address"
    address.write_text("192.0.2.10\n")
    common = dict(address_file=address, state_dir=shared.state)
    acme = '[acme]\nzones = ["example.test"]\npropagation_timeout = 30\npoll_interval = 0.1\n'
    hooks = write_config(shared.root / "hooks.toml", emulator, extra=acme, **common)  # type: ignore[arg-type]
    daemon = write_config(
        shared.root / "daemon.toml",
        emulator,
        extra=acme + 'max_age = "1s"\n',
        **common,  # type: ignore[arg-type]
    )
    for path in (hooks, daemon):
        path.chmod(0o644)
    return hooks, daemon


def acme_values(emulator: EmulatorHandle) -> list[str]:
    return sorted(
        e.content
        for e in emulator.entries("example.test")
        if e.name == "_acme-challenge" and e.type == "TXT"
    )


def test_root_hooks_then_once_and_run_as_the_user(shared: Shared, emulator: EmulatorHandle) -> None:
    hooks, daemon_config = configs(shared, emulator)

    # root's hooks, in-process: one value cleaned up, one left behind (a cleanup that never ran)
    for verb, value in (("present", "done"), ("present", "left"), ("cleanup", "done")):
        proc = run(["-c", str(hooks), verb, FQDN, value])
        assert proc.returncode == 0, proc.stderr
    assert acme_values(emulator) == ["left"]
    assert shared.root_owned() == []

    # the timer's round as the user reuses root's token: no second /auth
    auths = emulator.request_count("POST", "/v6/auth")
    once = run(["-c", str(hooks), "once"], prefix=shared.prefix)
    assert once.returncode == 0, once.stderr
    assert "home.example.test" in once.stdout
    assert emulator.request_count("POST", "/v6/auth") == auths

    # the daemon as the user sweeps what the hooks left (older than its max_age by then)
    backdate_journal(shared.state, 3600)
    daemon = DaemonProcess(daemon_config, prefix=shared.prefix)
    try:
        wait_for(lambda: acme_values(emulator) == [], what="the stale value to be swept")
    finally:
        assert daemon.stop() == 0, daemon.log
    assert "Traceback" not in daemon.log and "Permission denied" not in daemon.log, daemon.log
    assert shared.root_owned() == []


def test_daemon_as_the_user_serves_root_hooks(shared: Shared, emulator: EmulatorHandle) -> None:
    _, daemon_config = configs(shared, emulator)
    daemon = DaemonProcess(daemon_config, prefix=shared.prefix)
    try:
        daemon.wait_for_socket(shared.state / "ddnsd.sock")
        for verb, expected in (("present", ["by-daemon"]), ("cleanup", [])):
            proc = run(["-c", str(daemon_config), verb, FQDN, "by-daemon"])
            assert proc.returncode == 0, proc.stderr
            assert acme_values(emulator) == expected
        assert served_hooks(daemon) == 2
        assert "hook from uid 0 " in daemon.log
    finally:
        assert daemon.stop() == 0, daemon.log
    assert shared.root_owned() == []


def test_a_user_the_daemon_does_not_serve_is_told_how_to_allow_it(
    shared: Shared, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The daemon runs as root here; ``nobody`` runs the hook through a socket it can reach."""
    hooks, _ = configs(shared, emulator)
    sock = shared.root / "hooks.sock"
    config = tmp_path / "daemon.toml"
    config.write_text(hooks.read_text().replace("[http]\n", f'[http]\nsocket = "{sock}"\n'))
    user_config = shared.root / "user.toml"  # what the user's hook reads: where the socket is
    user_config.write_text(f'[http]\nsocket = "{sock}"\n')
    user_config.chmod(0o644)
    daemon = DaemonProcess(config)
    try:
        daemon.wait_for_socket(sock)
        hook = ["-c", str(user_config), "present", FQDN, "from-nobody"]
        refused = run(hook, prefix=shared.prefix)
        assert refused.returncode == 2
        assert refused.stderr == (
            f"ddnsd: the daemon at {sock} refuses uid {shared.uid} (nobody): it serves root "
            "and its own user; to allow this user, set [http] socket_group in the daemon's "
            "config to a group the user is in and reload the daemon, or run the hook as root\n"
        )
        assert acme_values(emulator) == []

        # as the line says: the user's group in socket_group, then SIGHUP
        text = config.read_text()
        config.write_text(text.replace("[http]\n", f'[http]\nsocket_group = "{shared.gid}"\n'))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in daemon.log, what="the reload")
        allowed = run(hook, prefix=shared.prefix)
        assert allowed.returncode == 0, allowed.stderr
        assert acme_values(emulator) == ["from-nobody"]
    finally:
        assert daemon.stop() == 0, daemon.log


# Run as the refused user: connect COUNT times, say "ready", then trickle a byte on each
# connection every second until stdin closes (what a local user could do to hold slots).
TRICKLER = """
import select, socket, sys
conns = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 1.0)[0]:
    for s in conns:
        try:
            s.send(b"{")
        except OSError:
            pass
"""


def test_refused_users_hold_no_slot_and_are_logged_once(
    shared: Shared, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """40 connections of ``nobody`` that trickle bytes: root's hook is still served, and
    the log says "refused" once, not 40 times."""
    import subprocess
    import sys

    hooks, _ = configs(shared, emulator)
    sock = shared.root / "hooks.sock"
    config = tmp_path / "daemon.toml"
    config.write_text(hooks.read_text().replace("[http]\n", f'[http]\nsocket = "{sock}"\n'))
    daemon = DaemonProcess(config)
    try:
        daemon.wait_for_socket(sock)
        with subprocess.Popen(
            [*shared.prefix, sys.executable, "-c", TRICKLER, str(sock), "40"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as trickler:
            assert trickler.stdout is not None and trickler.stdin is not None
            assert trickler.stdout.readline() == "ready\n"
            proc = run(["-c", str(config), "present", FQDN, "from-root"])
            trickler.stdin.close()
            assert trickler.wait(timeout=60) == 0
        assert proc.returncode == 0, proc.stderr
        assert acme_values(emulator) == ["from-root"]
        refused = [x for x in daemon.log.splitlines() if "refused a hook from uid" in x]
        assert len(refused) == 1, refused
        assert f"refused a hook from uid {shared.uid} (nobody, pid " in refused[0]
    finally:
        assert daemon.stop() == 0, daemon.log


def test_a_stale_socket_of_roots_that_the_user_may_not_remove_is_one_line(
    shared: Shared, emulator: EmulatorHandle
) -> None:
    """The daemon as the user; [http] socket in a sticky directory where a dead daemon of
    root's left its socket: the user may not remove it, and says so in one line."""
    _, daemon_config = configs(shared, emulator)
    run_dir = shared.root / "run"
    run_dir.mkdir()
    run_dir.chmod(0o1777)
    sock = run_dir / "ddnsd.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(sock))  # root's, and nobody listens on it
    config = shared.root / "sticky.toml"
    config.write_text(daemon_config.read_text().replace("[http]\n", f'[http]\nsocket = "{sock}"\n'))
    config.chmod(0o644)
    daemon = DaemonProcess(config, prefix=shared.prefix)
    assert daemon.proc.wait(timeout=60) == 1, daemon.log
    daemon.stop()
    assert daemon.log.strip().splitlines()[-1] == (
        f"ddnsd: cannot listen on {sock} (Operation not permitted); set [http] socket to a "
        'writable place, or to "" to turn the hook socket off'
    )
    assert "Traceback" not in daemon.log
    assert sock.is_socket() and sock.lstat().st_uid == 0


def test_every_state_dir_writer_leaves_files_to_the_dirs_owner(shared: Shared) -> None:
    """Run as root in the user's state dir: each writer's files end up the user's."""
    from ddnsd import statedir, statefiles
    from ddnsd.acme.domains import AccountDomains
    from ddnsd.acme.journal import Journal
    from ddnsd.model import DnsEntry
    from ddnsd.transip.token_cache import TokenCache
    from ddnsd.transip.tokens import Token

    class Lister:
        def list_domains(self) -> list[str]:
            return ["example.test"]

    state = shared.state
    (state / "acme.lock").touch()  # left by root before this fix: handed back on next open
    journal = Journal(statedir.StateDir(state))
    journal.add("example.test", DnsEntry("_acme-challenge", 60, "TXT", "v"), FQDN)
    with journal.cleanup_owner():
        pass
    with journal.locks.hold():  # a POST call's own lock (acme/inflight.py), while it is held
        assert shared.root_owned() == []
    cache = TokenCache(
        state, login="demo", api_url="u", fingerprint="f", read_only=False, global_key=True
    )
    cache.store(Token("t", 2e9, 3e9), 1.0)
    AccountDomains(Lister(), statedir.StateDir(state)).domains()
    statefiles.make_dir(state / "sub")
    statefiles.write_atomic(state / "sub" / "budget.json", "{}")  # what issue 9's budget uses
    memory = statedir.StateFile(state / "sub" / "memory.json")  # budget and record memory
    with memory.locked():
        memory.write({})
    names = sorted(p.name for p in state.rglob("*"))
    assert {"acme-journal.json", "acme.lock", "acme-cleanup.lock", "domains.json"} <= set(names)
    assert cache.path.name in names
    assert shared.root_owned() == []
    assert cache.load(0) == Token("t", 2e9, 3e9)


def test_root_keeps_its_own_state_dir(tmp_path: Path) -> None:
    from ddnsd import statefiles

    require_root()
    statefiles.write_atomic(tmp_path / "f.json", "{}")
    assert (tmp_path / "f.json").stat().st_uid == 0
    assert statefiles.owner_of(tmp_path) is None
