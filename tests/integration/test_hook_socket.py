"""``ddnsd present|cleanup|hook`` hand their work to a running daemon over its Unix socket.

Every test runs the real ``ddnsd run`` and real hook processes against the emulator and
checks what a user sees: exit codes, the final stderr line, the zone, the daemon's log.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from daemon_support import DDNSD, DaemonProcess, run, wait_for, write_config

from ddnsd.authdns import parse_server, query
from ddnsd.handoff.protocol import decode_message
from ddnsd.handoff.server import LogRelay

if TYPE_CHECKING:
    from conftest import EmulatorFactory, EmulatorHandle

FQDN = "_acme-challenge.example.test."
ACME = '[acme]\nzones = ["example.test"]\npropagation_timeout = 30\npoll_interval = 0.1\n'
IN_PROCESS = {"DDNSD_HTTP__SOCKET": ""}  # this hook ignores any daemon
HEAVY = (
    "pydantic",
    "pydantic_settings",
    "requests",
    "dns",
    "cryptography",
    "apscheduler",
    "prometheus_client",
)


def hook_config(directory: Path, emulator: Any, extra: str = "", **kw: Any) -> Path:
    """ACME only (no records, no HTTP listener); the state dir beside the file."""
    return write_config(directory / "ddnsd.toml", emulator, records="", extra=ACME + extra, **kw)


def state_socket(config: Path) -> Path:
    return config.parent / "state" / "ddnsd.sock"


def serve(daemons: list[DaemonProcess], config: Path, sock: Path | None = None, **kw: Any) -> Any:
    d = DaemonProcess(config, **kw)
    daemons.append(d)
    d.wait_for_socket(sock or state_socket(config))
    return d


def served_hooks(daemon: DaemonProcess) -> int:
    """How many hook requests the daemon ran (it logs each one)."""
    return daemon.log.count("ddnsd.handoff.server: hook from uid")


def acme_values(emulator: EmulatorHandle) -> list[str]:
    return sorted(
        e.content
        for e in emulator.entries("example.test")
        if e.name == "_acme-challenge" and e.type == "TXT"
    )


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def test_present_and_cleanup_through_the_daemon(
    emulator: EmulatorHandle, tmp_path: Path, daemons: Any
) -> None:
    config = hook_config(tmp_path, emulator)
    daemon = serve(daemons, config)

    present = run(["-c", str(config), "present", FQDN, "value-a"])
    assert present.returncode == 0, present.stderr
    assert acme_values(emulator) == ["value-a"]
    # the daemon's progress lines arrive on the hook's stderr, in the hook's format
    assert "ddnsd.acme.service: _acme-challenge.example.test TXT is served by all 1" in (
        present.stderr
    )
    cleanup = run(["-c", str(config), "cleanup", FQDN, "value-a"])
    assert cleanup.returncode == 0, cleanup.stderr
    assert acme_values(emulator) == []
    assert served_hooks(daemon) == 2


CASES = {
    "not a challenge name": ["present", "www.example.test.", "v"],
    "outside acme.zones": ["present", "_acme-challenge.other.test.", "v"],
    "lego usage": ["present", "just-one-argument"],
    "RAW usage": ["cleanup", "--", "example.test", "token"],
    "unknown hook": ["hook", "nonsense"],
    "certbot outside certbot": ["hook", "certbot-auth"],
    "dehydrated handler with nothing to do": ["hook", "dehydrated", "startup_hook"],
    "dehydrated usage": ["hook", "dehydrated", "deploy_challenge", "example.test", "f"],
}


def test_same_exit_code_and_final_line_as_in_process(
    emulator: EmulatorHandle, tmp_path: Path, daemons: Any
) -> None:
    config = hook_config(tmp_path, emulator)
    expected = {}
    for case, args in CASES.items():
        proc = run(["-c", str(config), *args], env=IN_PROCESS)
        expected[case] = (proc.returncode, last_line(proc.stderr))
    daemon = serve(daemons, config)
    got = {}
    for case, args in CASES.items():
        proc = run(["-c", str(config), *args])
        got[case] = (proc.returncode, last_line(proc.stderr))
    assert got == expected
    assert served_hooks(daemon) == len(CASES)
    assert {code for code, _ in got.values()} == {0, 1, 2}
    assert acme_values(emulator) == []


#: Standard-library modules the forwarding path does without (each costs milliseconds).
SLOW_STDLIB = ("logging", "argparse", "pathlib", "dataclasses", "shutil", "locale")


def test_forwarded_present_imports_no_third_party_module(
    emulator: EmulatorHandle, tmp_path: Path, daemons: Any
) -> None:
    """Run without site-packages at all (``python -S``, ddnsd from the source tree): a
    forwarded hook needs nothing but the standard library, and not its slow parts."""
    config = hook_config(tmp_path, emulator)
    daemon = serve(daemons, config)
    program = (
        "import sys\n"
        "from ddnsd.cli import main\n"
        f"code = main(['-c', {str(config)!r}, 'present', {FQDN!r}, 'value-fast'])\n"
        f"print(code, [m for m in {HEAVY + SLOW_STDLIB!r} if m in sys.modules])\n"
    )
    source = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-S", "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(source)},
        cwd=tmp_path,
    )
    assert proc.stdout.strip() == "0 []", proc.stderr
    assert acme_values(emulator) == ["value-fast"]
    assert served_hooks(daemon) == 1
    assert "ddnsd.acme.service: _acme-challenge.example.test TXT is served by all 1" in (
        proc.stderr
    )


def test_forwarded_progress_lines_keep_the_hooks_format_and_level(
    emulator: EmulatorHandle, tmp_path: Path, daemons: Any
) -> None:
    config = hook_config(tmp_path, emulator)
    daemon = serve(daemons, config)
    quiet = run(["--log-level", "warning", "-c", str(config), "present", FQDN, "value-q"])
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""  # the daemon's INFO lines are below the hook's level
    loud = run(["-c", str(config), "--log-format=json", "cleanup", FQDN, "value-q"])
    assert loud.returncode == 0, loud.stderr
    lines = [json.loads(line) for line in loud.stderr.splitlines()]
    assert lines and all(set(line) == {"ts", "level", "logger", "msg"} for line in lines)
    assert any(line["logger"].startswith("ddnsd.acme") for line in lines)
    assert acme_values(emulator) == []
    assert served_hooks(daemon) == 2  # the lines above came from the daemon, not in-process


def test_log_relay_is_an_ordinary_logging_handler() -> None:
    """The relay only overrides ``emit``: logging's own ``handle`` runs its filters first
    (a record a filter drops never reaches the hook), and only the records of the thread
    that serves a hook go to that hook's socket."""
    relay = LogRelay()
    relay.addFilter(lambda record: "dropped" not in record.getMessage())

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("ddnsd.acme.service", logging.INFO, __file__, 1, msg, None, None)

    ours, hooks = socket.socketpair()
    with ours, hooks:
        with relay.to(ours):
            for msg in ("kept", "a dropped line"):
                relay.handle(record(msg))
            elsewhere = threading.Thread(target=lambda: relay.handle(record("another thread")))
            elsewhere.start()
            elsewhere.join()
        relay.handle(record("after the hook"))
        ours.shutdown(socket.SHUT_WR)
        sent = b"".join(iter(lambda: hooks.recv(65536), b""))
    relayed = [decode_message(line) for line in sent.splitlines()]
    assert [(kind, body["level"], body["logger"], body["msg"]) for kind, body in relayed] == [
        ("log", "INFO", "ddnsd.acme.service", "kept")
    ]


def test_in_process_present_with_a_cached_token_parses_no_key(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """No daemon: the hook works in-process on the fast config reader; with the token
    cached it needs neither pydantic nor the key's parsing (cryptography), only requests
    (TransIP) and dnspython (the nameservers)."""
    config = hook_config(tmp_path, emulator)
    config.write_text(config.read_text().replace("[http]\n", '[http]\nsocket = ""\n', 1))
    program = (
        "import sys\n"
        "from ddnsd.cli import main\n"
        "value = sys.argv[1]\n"
        f"code = main(['-c', {str(config)!r}, 'present', {FQDN!r}, value])\n"
        f"print(code, [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", program, value],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for value in ("first-value", "second-value")
    ]
    assert runs[0].stdout.startswith("0 "), runs[0].stderr  # got the token: parsed the key
    assert runs[1].stdout.strip() == "0 ['requests', 'dns']", runs[1].stderr
    assert sorted(acme_values(emulator)) == ["first-value", "second-value"]
    assert emulator.request_count("POST", "/v6/auth") == 1


GARBLED = {
    "not JSON": (b"present _acme-challenge.example.test. v\n", "the request is not a line of JSON"),
    "not UTF-8": (b"\xff\xfe\n", "the request is not a line of JSON"),
    "not an object": (b"[1, 2]\n", "the request is not a JSON object"),
    "another version": (
        b'{"v": 2, "command": "present"}\n',
        "the request is protocol version 2, this daemon speaks 1; run the same ddnsd "
        "version for the hook and the daemon",
    ),
    "unknown command": (
        b'{"v": 1, "command": "rm"}\n',
        "unknown command 'rm'; use one of present, cleanup, hook",
    ),
    "args not strings": (
        b'{"v": 1, "command": "present", "args": [1]}\n',
        '"args" must be a list of strings',
    ),
    "env beyond certbot's": (
        b'{"v": 1, "command": "hook", "env": {"PATH": "/tmp"}}\n',
        '"env" must map CERTBOT_* names to strings',
    ),
    "nothing, then end of stream": (b"", "the request is empty"),
    "a line without end": (b"x" * 300_000, "the request is longer than 262144 bytes"),
    "nothing, the connection kept open": (None, "no complete request line within 10 s"),
}


@pytest.mark.slow(10)
def test_garbled_requests_get_one_error_line(
    emulator: EmulatorHandle, tmp_path: Path, daemons: Any
) -> None:
    import json

    config = hook_config(tmp_path, emulator)
    serve(daemons, config)
    for case, (data, reason) in GARBLED.items():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)  # a guard against a hang, not a speed check
            s.connect(str(state_socket(config)))
            if data is not None:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            answer = s.makefile("rb").read()
        line = {
            "result": {"exit": 2, "lines": [f"ddnsd: the daemon cannot use the request: {reason}"]}
        }
        assert [json.loads(x) for x in answer.splitlines()] == [line], case
    assert acme_values(emulator) == []


def test_stale_socket_falls_back_to_in_process(emulator: EmulatorHandle, tmp_path: Path) -> None:
    config = hook_config(tmp_path, emulator)
    sock = state_socket(config)
    sock.parent.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(sock))  # what a killed daemon leaves: a socket nobody listens on
    proc = run(["-c", str(config), "present", FQDN, "value-b"])
    assert proc.returncode == 0, proc.stderr
    assert acme_values(emulator) == ["value-b"]


def test_a_second_daemon_on_the_same_socket_does_not_start(
    emulator: EmulatorHandle, tmp_path: Path, daemons: Any
) -> None:
    config = hook_config(tmp_path, emulator)
    first = serve(daemons, config)
    second = DaemonProcess(config)
    daemons.append(second)
    assert second.proc.wait(timeout=60) == 1
    assert f"ddnsd: another ddnsd daemon listens on {state_socket(config)}; stop it" in second.log
    assert run(["-c", str(config), "present", FQDN, "v"]).returncode == 0
    assert served_hooks(first) == 1


def test_daemon_killed_mid_present(
    emulator_factory: EmulatorFactory, tmp_path: Path, daemons: Any
) -> None:
    emulator = emulator_factory(propagation_delay=600.0)  # present waits until the kill
    config = hook_config(tmp_path, emulator, extra='max_age = "1s"\n')
    daemon = serve(daemons, config)
    hook = subprocess.Popen(
        [*DDNSD, "-c", str(config), "present", FQDN, "value-k"],
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: "waiting for _acme-challenge.example.test" in daemon.log, what="the wait")
    daemon.proc.kill()
    _, err = hook.communicate(timeout=60)
    assert hook.returncode == 1
    assert last_line(err) == (
        f"ddnsd: the daemon at {state_socket(config)} stopped before the present finished "
        "(it exited or restarted); run the ACME client again once the daemon is back"
    )
    assert acme_values(emulator) == ["value-k"]
    # restarted (over the socket the killed one left), it removes what the hook left
    time.sleep(1.0)  # the value is now older than max_age: the hook that added it is gone
    serve(daemons, config)
    wait_for(lambda: acme_values(emulator) == [], what="the orphan value to be removed")


def certbot_env(validation: str, remaining: int) -> dict[str, str]:
    return {
        "CERTBOT_DOMAIN": "example.test",
        "CERTBOT_VALIDATION": validation,
        "CERTBOT_ALL_DOMAINS": "example.test,*.example.test",
        "CERTBOT_REMAINING_CHALLENGES": str(remaining),
    }


def test_certbot_apex_and_wildcard_at_once_one_token(
    emulator: EmulatorHandle, tmp_path: Path, daemons: Any
) -> None:
    config = hook_config(tmp_path, emulator)
    daemon = serve(daemons, config)
    ns = parse_server(emulator.dns_server)
    runs = [certbot_env("value-apex", 1), certbot_env("value-wild", 0)]

    def both(kind: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")}
        procs = [
            subprocess.Popen(
                [*DDNSD, "-c", str(config), "hook", kind],
                env={**env, **extra},
                stderr=subprocess.PIPE,
                text=True,
            )
            for extra in runs
        ]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err

    both("certbot-auth")
    assert acme_values(emulator) == ["value-apex", "value-wild"]
    wait_for(
        lambda: sorted(query(ns, FQDN, "TXT")) == ["value-apex", "value-wild"],
        what="both values to be served",
    )
    both("certbot-cleanup")
    assert acme_values(emulator) == []
    assert served_hooks(daemon) == 4
    assert emulator.request_count("POST", "/v6/auth") == 1


def test_certbot_last_auth_hook_waits_for_all_through_the_daemon(
    emulator_factory: EmulatorFactory, tmp_path: Path, daemons: Any
) -> None:
    emulator = emulator_factory(propagation_delay=30.0)
    config = hook_config(tmp_path, emulator)
    serve(daemons, config)
    ns = parse_server(emulator.dns_server)
    first = run(["-c", str(config), "hook", "certbot-auth"], env=certbot_env("value-apex", 1))
    assert first.returncode == 0, first.stderr
    assert acme_values(emulator) == ["value-apex"]  # stored at TransIP ...
    assert query(ns, FQDN, "TXT") == []  # ... not served yet: this hook did not wait
    emulator.set_propagation_delay(1.0)
    last = run(["-c", str(config), "hook", "certbot-auth"], env=certbot_env("value-wild", 0))
    assert last.returncode == 0, last.stderr
    assert sorted(query(ns, FQDN, "TXT")) == ["value-apex", "value-wild"]


def test_under_systemd_the_socket_is_in_the_runtime_directory(
    emulator: EmulatorHandle, tmp_path: Path, daemons: Any
) -> None:
    config = hook_config(tmp_path, emulator)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o755)
    env = {"RUNTIME_DIRECTORY": str(runtime)}  # what RuntimeDirectory=ddnsd hands the unit
    daemon = serve(daemons, config, runtime / "ddnsd.sock", env=env)
    assert not state_socket(config).exists()
    assert oct((runtime / "ddnsd.sock").stat().st_mode & 0o777) == "0o666"
    proc = run(["-c", str(config), "present", FQDN, "v"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert served_hooks(daemon) == 1
