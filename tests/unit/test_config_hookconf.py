"""The hook's reader (config/hookconf.py) against the full reader: same values, or it
leaves the file to the full reader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ddnsd import config
from ddnsd.config.hookconf import load_for_hook

TRANSIP = '[transip]\nlogin = "demo"\nprivate_key_file = "key.pem"\n'

SAME = {
    "defaults": "",
    "every hook key": (
        'api_url = "http://127.0.0.1:8780/v6/"\ntest_mode = true\nglobal_key = false\n'
        'token_lifetime = "2h"\ntoken_cache = false\ntimeout = "30s"\n'
        '[dns]\nnameservers = ["127.0.0.1:8053", "[::1]:53"]\n'
        '[acme]\nzones = ["example.test"]\npropagation_timeout = "5m"\npoll_interval = 0.5\n'
        "max_age = 60\ncname_follow = true\nexpire = 300\n"
        '[state]\ndir = "state"\nhistory_bytes = 100000\n'
    ),
    "hostile values both readers accept": (
        'token_lifetime = "1 week"\n'
        '[acme]\nzones = ["Example.TEST.", "xn--bcher-kva.example", "_Under.Score"]\n'
        '[state]\ndir = "st ate/\u540d \\"q\\" \\\\ #[0m"\n'
    ),
    "sections a hook does not read": (
        '[[records]]\ndomain = "example.test"\nname = "home"\ntype = "A"\n'
        '[acme.httpreq]\nusername = "lego"\npassword_file = "key.pem"\n'
        '[http]\nlisten = ""\nsocket = ""\n'
    ),
}


@pytest.mark.parametrize("extra", SAME.values(), ids=SAME.keys())
def test_same_values_as_the_full_reader(tmp_path: Path, extra: str) -> None:
    (tmp_path / "key.pem").write_text("not parsed by either reader\n")
    path = tmp_path / "c.toml"
    path.write_text(TRANSIP + extra)
    env: dict[str, str] = {}
    light = load_for_hook(str(path), env)
    full = config.load(str(path), environ=env)
    assert light is not None
    for section in ("transip", "dns", "acme", "state"):
        got, want = getattr(light, section), getattr(full, section)
        for key in got.__dataclass_fields__:
            assert getattr(got, key) == getattr(want, key), f"{section}.{key}"


LEAVE = {
    "an environment override": (TRANSIP, {"DDNSD_ACME__PROPAGATION_TIMEOUT": "5"}),
    "an unknown key": (TRANSIP + "[acme]\npropagation_timout = 5\n", {}),
    "a string for a bool": (TRANSIP + 'global_key = "yes"\n', {}),
    "a bool for a number": (TRANSIP + "[acme]\nexpire = true\n", {}),
    "expire below 60": (TRANSIP + "[acme]\nexpire = 30\n", {}),
    "a history too small": (TRANSIP + "[state]\nhistory_bytes = 100\n", {}),
    "a bad duration": (TRANSIP + 'timeout = "soon"\n', {}),
    "a bad nameserver": (TRANSIP + '[dns]\nnameservers = ["a b"]\n', {}),
    "no login": ('[transip]\nprivate_key_file = "key.pem"\n', {}),
    "a missing key file": ('[transip]\nlogin = "demo"\nprivate_key_file = "nope.pem"\n', {}),
    "not an http URL": (TRANSIP + 'api_url = "ftp://x"\n', {}),
    "TOML syntax": (TRANSIP + "[acme\n", {}),
    "a control character in a value": (TRANSIP.replace("demo", "de\\u0001mo"), {}),
    "a control character in a key": (TRANSIP + '[acme]\n"expire\\u001b" = 60\n', {}),
    "a control character in a section a hook does not read": (
        TRANSIP + '[[records]]\ndomain = "example.test"\nname = "h\\u0085"\ntype = "A"\n',
        {},
    ),
    "a zone that is not a name": (TRANSIP + '[acme]\nzones = ["a b"]\n', {}),
    "an empty zone": (TRANSIP + '[acme]\nzones = [""]\n', {}),
}


@pytest.mark.parametrize(("text", "env"), LEAVE.values(), ids=LEAVE.keys())
def test_leaves_the_rest_to_the_full_reader(tmp_path: Path, text: str, env: dict[str, str]) -> None:
    (tmp_path / "key.pem").write_text("x\n")
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert load_for_hook(str(path), env) is None


def test_missing_file_is_left_to_the_full_reader(tmp_path: Path) -> None:
    assert load_for_hook(str(tmp_path / "none.toml"), {}) is None


@pytest.mark.parametrize(
    ("login", "extra", "problem"),
    [
        (
            "de\\u0001mo",
            "",
            "transip.login: contains a control character (U+0001); remove it",
        ),
        (
            "demo",
            '[acme]\nzones = ["a b"]\n',
            "acme.zones[0]: 'a b' is not a domain name: it contains a space (U+0020); "
            "names hold only letters, digits, '-', '_' and dots",
        ),
    ],
)
def test_present_refuses_what_check_config_refuses(
    tmp_path: Path, login: str, extra: str, problem: str
) -> None:
    """Exit 2 with check-config's line, before any request (nothing listens at the API)."""
    (tmp_path / "key.pem").write_text("x\n")
    path = tmp_path / "c.toml"
    path.write_text(
        f'[transip]\nlogin = "{login}"\nprivate_key_file = "key.pem"\n'
        'api_url = "http://127.0.0.1:9/v6"\n'
        f'[state]\ndir = "{tmp_path / "state"}"\n' + extra
    )
    done = subprocess.run(
        [sys.executable, "-m", "ddnsd", "-c", str(path), "present", "_acme-challenge.x.test.", "v"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("DDNSD_")},
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"ddnsd: config file {path} has 1 problem",
        f"  - {problem}",
    ]
