"""What start-up refuses, check-config refuses too, and both exit 2 with one line per problem.

The real ``ddnsd`` command against the emulator (issue 11 items 4, 5, 6): a key file
mode 0644, a file that is not a key, a state dir that cannot be written, a port past
65535, an address not on this machine, a host name, a hook socket that cannot be made
there, an unknown socket group; a config file that is not UTF-8;
NaN and infinity on the command line. Nothing reaches the emulator.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from daemon_support import run, write_config

Break = Callable[[Path, Path], dict[str, str]]


def _key_mode_0644(tmp: Path, key: Path) -> dict[str, str]:
    shutil.copy(key, tmp / "open.key")
    (tmp / "open.key").chmod(0o644)
    return {"key": str(tmp / "open.key")}


def _not_a_key(tmp: Path, key: Path) -> dict[str, str]:
    (tmp / "notes.txt").write_text("my TransIP key is in the safe\n")
    (tmp / "notes.txt").chmod(0o600)
    return {"key": str(tmp / "notes.txt")}


def _state_dir_under_a_file(tmp: Path, key: Path) -> dict[str, str]:
    (tmp / "plain-file").write_text("")
    return {"state": str(tmp / "plain-file" / "state")}


CASES: dict[str, tuple[Break, str]] = {
    "key-mode-0644": (
        _key_mode_0644,
        "transip.private_key_file: private key file {tmp}/open.key is accessible by group or "
        "others (mode 0644): run 'chmod 600 {tmp}/open.key', or set insecure_key_permissions "
        "= true to accept it",
    ),
    "not-a-key": (
        _not_a_key,
        "transip.private_key_file: private key file {tmp}/notes.txt does not contain a PEM "
        "private key (expected a BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY block)",
    ),
    "unwritable-state-dir": (
        _state_dir_under_a_file,
        "state.dir: cannot write to {tmp}/plain-file ({tmp}/plain-file is not a directory); "
        "set [state] dir to a writable directory",
    ),
    "port-70000": (
        lambda tmp, key: {"listen": "127.0.0.1:70000"},
        "http.listen: '127.0.0.1:70000': the port must be a number from 0 to 65535",
    ),
    "address-not-here": (
        lambda tmp, key: {"listen": "192.0.2.1:9333"},
        "http.listen: cannot listen on 192.0.2.1:9333: no interface of this machine has "
        "192.0.2.1 (Cannot assign requested address); change [http] listen",
    ),
    "hostname": (
        lambda tmp, key: {"listen": "localhost:9333"},
        "http.listen: 'localhost:9333': 'localhost' is not an IP address; listen on an "
        "address of this machine (127.0.0.1:9333, [::1]:9333, or 0.0.0.0:9333 for all of them)",
    ),
    "external-dns-address-not-here": (
        lambda tmp, key: {"tail": '[external_dns]\nlisten = "192.0.2.1:8888"\n'},
        "external_dns.listen: cannot listen on 192.0.2.1:8888: no interface of this machine "
        "has 192.0.2.1 (Cannot assign requested address); change [external_dns] listen",
    ),
    "external-dns-on-the-http-port": (
        lambda tmp, key: {
            "listen": "127.0.0.1:9333",
            "tail": '[external_dns]\nlisten = "127.0.0.1:9333"\n',
        },
        "external_dns.listen: 127.0.0.1:9333 is [http] listen too; give external-dns its own "
        'port ("127.0.0.1:8888")',
    ),
    "socket-dir-missing": (
        lambda tmp, key: {"http": 'socket = "/nonexistent/dir/ddnsd.sock"'},
        "http.socket: cannot listen on /nonexistent/dir/ddnsd.sock: /nonexistent/dir does not "
        'exist; set [http] socket to a writable place, or to "" to turn the hook socket off',
    ),
    "socket-dir-is-a-file": (
        lambda tmp, key: {"http": f'socket = "{tmp}/address/ddnsd.sock"'},
        "http.socket: cannot listen on {tmp}/address/ddnsd.sock: {tmp}/address is not a "
        'directory; set [http] socket to a writable place, or to "" to turn the hook socket off',
    ),
    "socket-path-is-a-file": (
        lambda tmp, key: {"http": f'socket = "{tmp}/address"'},
        "http.socket: {tmp}/address exists and is not a socket; remove it or set [http] socket "
        "elsewhere",
    ),
    "socket-group-unknown": (
        lambda tmp, key: {"http": 'socket_group = "no-such-group-here"'},
        "http.socket_group: 'no-such-group-here' is not a group on this machine; set [http] "
        'socket_group to a group name or number, or to "" to serve root and the daemon\'s '
        "own user only",
    ),
}


def broken_config(emulator: Any, tmp: Path, change: dict[str, str]) -> Path:
    """A good config (listening on a free port) with ``change``'s key, state dir, listen,
    more ``[http]`` lines or sections at the end (``tail``)."""
    addr = tmp / "address"
    addr.write_text("203.0.113.10\n")
    cfg = write_config(tmp / "c.toml", emulator, address_file=addr, state_dir=tmp / "state")
    text = cfg.read_text().replace(
        'listen = ""', f'listen = "{change.get("listen", "127.0.0.1:0")}"'
    )
    text = text.replace(
        str(emulator.private_key_path), change.get("key", str(emulator.private_key_path))
    )
    text = text.replace("[http]\n", f"[http]\n{change.get('http', '')}\n", 1)
    text = text.replace(str(tmp / "state"), change.get("state", str(tmp / "state")))
    cfg.write_text(text + change.get("tail", ""))
    return cfg


@pytest.mark.parametrize("command", ["check-config", "run"])
@pytest.mark.parametrize("case", CASES, ids=CASES.keys())
def test_start_up_problem_is_exit_2_in_check_config_and_run(
    emulator: Any, tmp_path: Path, case: str, command: str
) -> None:
    make, problem = CASES[case]
    cfg = broken_config(emulator, tmp_path, make(tmp_path, emulator.private_key_path))
    out = run(["-c", str(cfg), command], timeout=30)
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == [
        f"ddnsd: config file {cfg} has 1 problem",
        "  - " + problem.format(tmp=tmp_path),
    ]
    assert out.stdout == ""
    assert emulator.request_count() == 0


def test_the_same_config_fixed_passes_check_config(emulator: Any, tmp_path: Path) -> None:
    cfg = broken_config(emulator, tmp_path, {})
    out = run(["-c", str(cfg), "check-config"])
    assert out.returncode == 0, out.stderr
    assert emulator.request_count() == 0
    assert not (tmp_path / "state").exists()  # checked, not created


@pytest.mark.parametrize("command", ["check-config", "ip", "once", "run", "present"])
def test_config_file_that_is_not_utf8_is_one_line_exit_2(tmp_path: Path, command: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b'\xff\xfe[transip]\nlogin = "demo"\n')
    args = [command] + (["_acme-challenge.example.test", "value"] if command == "present" else [])
    out = run(["-c", str(cfg), *args])
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"ddnsd: config file {cfg} is not UTF-8 text (byte 0xff at offset 0); save it as UTF-8"
    ]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e999"])
def test_healthcheck_timeout_nan_and_infinity_are_usage_errors(value: str) -> None:
    out = run(["healthcheck", "--url", "http://127.0.0.1:9/healthz", "--timeout", value])
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == (
        f"ddnsd healthcheck: error: argument --timeout: invalid duration value: '{value}'"
    )
    assert "Traceback" not in out.stderr


def status_config(tmp: Path, keypair: Any) -> Path:
    """A config that loads, listening where nothing answers: status reads the state dir."""
    cfg = tmp / "c.toml"
    cfg.write_text(
        f'[transip]\nlogin = "demo"\nprivate_key_file = "{keypair.private_key_path}"\n'
        f'[http]\nlisten = "127.0.0.1:9"\n[state]\ndir = "{tmp / "state"}"\n'
    )
    return cfg


BAD_OPTIONS: dict[str, tuple[list[str], str]] = {
    "status-timeout-inf": (
        ["status", "--timeout", "inf"],
        "ddnsd status: error: argument --timeout: invalid duration value: 'inf'",
    ),
    "status-timeout-1e400": (
        ["status", "--timeout", "1e400"],
        "ddnsd status: error: argument --timeout: invalid duration value: '1e400'",
    ),
    "status-timeout-nan": (
        ["status", "--timeout", "nan"],
        "ddnsd status: error: argument --timeout: invalid duration value: 'nan'",
    ),
    "status-timeout-negative": (
        ["status", "--timeout", "-1"],
        "ddnsd status: error: argument --timeout: invalid duration value: '-1'",
    ),
    "status-timeout-0": (
        ["status", "--timeout", "0"],
        "ddnsd status: error: argument --timeout: invalid duration value: '0'",
    ),
    "status-url-no-scheme": (
        ["status", "--url", "foo"],
        "ddnsd status: error: argument --url: 'foo' is not an http:// or https:// URL",
    ),
    "status-url-broken-ipv6": (
        ["status", "--url", "http://[::1"],
        "ddnsd status: error: argument --url: 'http://[::1' is not a URL (Invalid IPv6 URL)",
    ),
    "healthcheck-url-no-scheme": (
        ["healthcheck", "--url", "foo"],
        "ddnsd healthcheck: error: argument --url: 'foo' is not an http:// or https:// URL",
    ),
    "healthcheck-url-broken-ipv6": (
        ["healthcheck", "--url", "http://[::1"],
        "ddnsd healthcheck: error: argument --url: 'http://[::1' is not a URL (Invalid IPv6 URL)",
    ),
    "healthcheck-url-empty": (
        ["healthcheck", "--url", ""],
        "ddnsd healthcheck: error: argument --url: '' is not an http:// or https:// URL",
    ),
    "healthcheck-url-file": (
        ["healthcheck", "--url", "file:///etc/hostname"],
        "ddnsd healthcheck: error: argument --url: 'file:///etc/hostname' is not an http:// "
        "or https:// URL",
    ),
    "healthcheck-url-no-host": (
        ["healthcheck", "--url", "http://:9333/healthz"],
        "ddnsd healthcheck: error: argument --url: 'http://:9333/healthz' has no host",
    ),
    "healthcheck-url-port-out-of-range": (
        ["healthcheck", "--url", "http://127.0.0.1:99999/healthz"],
        "ddnsd healthcheck: error: argument --url: 'http://127.0.0.1:99999/healthz' is not a "
        "URL (Port out of range 0-65535)",
    ),
    "healthcheck-url-space": (
        ["healthcheck", "--url", "http://127.0.0.1:9/health z"],
        "ddnsd healthcheck: error: argument --url: 'http://127.0.0.1:9/health z' has a space, "
        "a control or a non-ASCII character; percent-encode it",
    ),
    "status-url-non-ascii-path": (
        ["status", "--url", "http://127.0.0.1:9/stätus"],
        "ddnsd status: error: argument --url: 'http://127.0.0.1:9/stätus' has a space, "
        "a control or a non-ASCII character; percent-encode it",
    ),
}


@pytest.mark.parametrize("case", BAD_OPTIONS, ids=BAD_OPTIONS.keys())
def test_bad_status_and_healthcheck_options_are_one_usage_line(
    tmp_path: Path, rsa_keypair: Any, case: str
) -> None:
    """Refused by argparse: the usage, one line naming the option, exit 2; neither the
    network nor the state dir is asked."""
    args, line = BAD_OPTIONS[case]
    out = run(["-c", str(status_config(tmp_path, rsa_keypair)), *args])
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines()[0].startswith(f"usage: ddnsd {args[0]} ")
    assert out.stderr.splitlines()[-1] == line
    assert "Traceback" not in out.stderr
    assert out.stdout == ""
    assert not (tmp_path / "state").exists()


def test_emulator_propagation_delay_nan_is_a_usage_error(tmp_path: Path, rsa_keypair: Any) -> None:
    out = run(
        ["emulator", "--public-key", str(rsa_keypair.public_key_path), "--propagation-delay", "nan"]
    )
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1].endswith("invalid delay value: 'nan'")


def test_jitter_zero_runs_rounds(emulator: Any, tmp_path: Path) -> None:
    from daemon_support import DaemonProcess, wait_for

    cfg = broken_config(emulator, tmp_path, {})
    cfg.write_text(cfg.read_text().replace('jitter = "0.1s"', "jitter = 0"))
    assert run(["-c", str(cfg), "check-config"]).returncode == 0
    daemon = DaemonProcess(cfg)
    try:
        wait_for(
            lambda: [e.content for e in emulator.entries("example.test") if e.name == "home"],
            what="the first round",
        )
    finally:
        assert daemon.stop() == 0
