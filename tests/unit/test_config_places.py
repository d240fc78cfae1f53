"""Where the daemon listens and where a hook looks for it (config/places.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddnsd.config.places import SYSTEMD_SOCKET, hook_sockets, socket_path

STATE = Path("/srv/state")

LISTEN = {
    "default: the state dir": (None, None, STATE / "ddnsd.sock"),
    "under systemd: RuntimeDirectory": (None, "/run/ddnsd", Path("/run/ddnsd/ddnsd.sock")),
    "several runtime dirs: the first": (None, "/run/a:/run/b", Path("/run/a/ddnsd.sock")),
    "configured": ("/tmp/x.sock", "/run/ddnsd", Path("/tmp/x.sock")),
    'turned off with ""': ("", "/run/ddnsd", None),
}


@pytest.mark.parametrize(("configured", "runtime", "path"), LISTEN.values(), ids=LISTEN.keys())
def test_daemon_socket(configured: str | None, runtime: str | None, path: Path | None) -> None:
    assert socket_path(configured, STATE, runtime) == path


def candidates(tmp_path: Path, toml: str | None, env: dict[str, str]) -> list[Path]:
    config = tmp_path / "c.toml"
    if toml is not None:
        config.write_text(toml)
    return hook_sockets(str(config), env)


def test_hook_candidates(tmp_path: Path) -> None:
    here = tmp_path / "rel" / "ddnsd.sock"
    table = [
        # (file, environment) -> sockets tried in order
        ('[state]\ndir = "/s"\n', {}, [Path("/s/ddnsd.sock"), SYSTEMD_SOCKET]),
        ('[state]\ndir = "rel"\n', {}, [here, SYSTEMD_SOCKET]),
        ("", {"STATE_DIRECTORY": "/var/lib/x"}, [Path("/var/lib/x/ddnsd.sock"), SYSTEMD_SOCKET]),
        ("", {}, [Path("/var/lib/ddnsd/ddnsd.sock"), SYSTEMD_SOCKET]),
        (
            '[state]\ndir = "/s"\n',
            {"RUNTIME_DIRECTORY": "/run/y"},
            [Path("/run/y/ddnsd.sock"), Path("/s/ddnsd.sock"), SYSTEMD_SOCKET],
        ),
        ('[http]\nsocket = "/x.sock"\n', {}, [Path("/x.sock")]),
        ('[http]\nsocket = "/x.sock"\n', {"ddnsd_http__socket": "/y.sock"}, [Path("/y.sock")]),
        ("[state]\n", {"DDNSD_STATE__DIR": "/e"}, [Path("/e/ddnsd.sock"), SYSTEMD_SOCKET]),
        ('[http]\nsocket = ""\n', {}, []),
        ("", {"DDNSD_HTTP__SOCKET": ""}, []),
        # a file the full reader must judge: in-process, which reports it
        ("[http\n", {}, []),
        ("[http]\nsocket = 5\n", {}, []),
        (None, {}, []),
    ]
    for toml, env, expected in table:
        assert candidates(tmp_path, toml, env) == expected, (toml, env)


def test_a_file_that_is_not_utf8_is_left_to_the_full_reader(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(b"\xff\xfe[state]\n")
    assert hook_sockets(str(config), {}) == []
