"""The ddnsd command as a user runs it: exit codes, output lines, zone state afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from daemon_support import address_config, run, write_config

from ddnsd.model import DnsEntry


def home(emulator: Any) -> list[DnsEntry]:
    return [e for e in emulator.entries("example.test") if e.name == "home" and e.type == "A"]


def test_once_creates_then_keeps_the_record(emulator: Any, tmp_path: Path) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.10\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr)
    before = {e for e in emulator.entries("example.test") if e.name != "home"}

    first = run(["-c", str(cfg), "once"])
    assert first.returncode == 0, first.stderr
    assert home(emulator) == [DnsEntry("home", 300, "A", "203.0.113.10")]
    assert "home.example.test/A" in first.stdout and "updated" in first.stdout

    second = run(["-c", str(cfg), "once"])
    assert second.returncode == 0, second.stderr
    assert "noop" in second.stdout
    assert home(emulator) == [DnsEntry("home", 300, "A", "203.0.113.10")]
    assert {e for e in emulator.entries("example.test") if e.name != "home"} == before


def test_once_dry_run_writes_nothing(emulator: Any, tmp_path: Path) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.10\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr)
    out = run(["-c", str(cfg), "once", "--dry-run"])
    assert out.returncode == 0, out.stderr
    assert home(emulator) == []
    assert emulator.request_count("POST", "/v6/domains/{domain}/dns") == 0
    assert "dry run, nothing written" in out.stdout
    assert "(none) → 203.0.113.10 (POST)" in out.stdout


def test_once_config_after_subcommand(emulator: Any, tmp_path: Path) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.11\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr)
    out = run(["once", "-c", str(cfg)])
    assert out.returncode == 0, out.stderr
    assert [e.content for e in home(emulator)] == ["203.0.113.11"]


def test_once_exits_1_when_a_record_fails(emulator: Any, tmp_path: Path) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.12\n")
    records = '[[records]]\ndomain = "missing.test"\nname = "home"\ntype = "A"\n'
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, records=records)
    out = run(["-c", str(cfg), "once"])
    assert out.returncode == 1
    assert "home.missing.test/A" in out.stdout and "failed" in out.stdout


def test_once_exits_1_when_sources_fail(emulator: Any, tmp_path: Path) -> None:
    addr = tmp_path / "address"
    addr.write_text("<html>not an address</html>\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr)
    out = run(["-c", str(cfg), "once"])
    assert out.returncode == 1
    assert home(emulator) == []
    assert f"file:{addr}" in out.stderr


def test_env_overrides_config(emulator: Any, tmp_path: Path) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.13\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr)
    out = run(["once"], env={"DDNSD_CONFIG": str(cfg), "DDNSD_TRANSIP__TEST_MODE": "true"})
    assert out.returncode == 0, out.stderr
    assert home(emulator) == []  # test mode: validated, not applied


def test_bad_config_exit_2_every_problem(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[transip]\nlogn = "x"\n[[records]]\ndomain = "x y"\nname = "a"\ntype = "MX"\n')
    out = run(["-c", str(cfg), "check-config"])
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[0] == f"ddnsd: config file {cfg} has 3 problems"
    assert lines[1:] == [
        "  - transip.logn: unknown key (typo?)",
        "  - records[0].domain: 'x y' is not a domain name: it contains a space (U+0020); "
        "names hold only letters, digits, '-', '_' and dots",
        "  - records[0].type: Input should be 'A' or 'AAAA'",
    ]
    assert out.stdout == ""


ENV_JSON = "set from the environment is written as JSON, e.g."


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "DDNSD_DETECT__IPV4",
            "https://x",
            f"""ddnsd: DDNSD_DETECT__IPV4 is not JSON: a list {ENV_JSON} """
            """DDNSD_DETECT__IPV4='["…", "…"]'""",
        ),
        (
            "DDNSD_TRANSIP",
            "x",
            f"""ddnsd: DDNSD_TRANSIP is not JSON: a section {ENV_JSON} """
            """DDNSD_TRANSIP='{"key": "…"}' (or one key: DDNSD_TRANSIP__KEY=…)""",
        ),
        (
            "DDNSD_RECORDS",
            "[1",
            f"""ddnsd: DDNSD_RECORDS is not JSON: a list of sections {ENV_JSON} """
            """DDNSD_RECORDS='[{"key": "…"}, {"key": "…"}]'""",
        ),
        (
            "DDNSD_NOTIFY__URLS",
            "tgram://S3CRET/1",
            f"""ddnsd: DDNSD_NOTIFY__URLS is not JSON: a list {ENV_JSON} """
            """DDNSD_NOTIFY__URLS='["…", "…"]'""",
        ),
    ],
)
def test_a_list_or_section_from_the_environment_as_plain_text_is_one_line(
    tmp_path: Path, variable: str, value: str, line: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[transip]\nlogin = "demo"\n')
    out = run(["-c", str(cfg), "check-config"], env={variable: value})
    assert (out.returncode, out.stdout, out.stderr.splitlines()) == (2, "", [line])


@pytest.mark.parametrize(
    "command", [["once"], ["ip"], ["run"], ["present", "_acme-challenge.example.test.", "v"]]
)
def test_every_command_refuses_an_environment_list_that_is_not_json(
    tmp_path: Path, command: list[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[transip]\nlogin = "demo"\n')
    out = run(["-c", str(cfg), *command], env={"DDNSD_DETECT__IPV4": "https://x"})
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"""ddnsd: DDNSD_DETECT__IPV4 is not JSON: a list {ENV_JSON} """
        """DDNSD_DETECT__IPV4='["…", "…"]'"""
    ]


def test_missing_config_is_one_line(tmp_path: Path) -> None:
    out = run(["-c", str(tmp_path / "none.toml"), "once"])
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"ddnsd: config file {tmp_path / 'none.toml'} does not exist; pass -c FILE or set "
        "DDNSD_CONFIG (see config.example.toml)"
    ]


def test_check_config_redacts_secrets(emulator: Any, tmp_path: Path) -> None:
    addr = tmp_path / "address"
    addr.write_text("203.0.113.14\n")
    extra = '[acme.httpreq]\nusername = "lego"\npassword = "s3cret-httpreq"\n'
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr, extra=extra)
    out = run(["-c", str(cfg), "check-config"])
    assert out.returncode == 0, out.stderr
    assert "s3cret-httpreq" not in out.stdout + out.stderr
    assert 'password = "********"' in out.stdout
    assert 'login = "demo"' in out.stdout
    key_text = emulator.private_key_path.read_text()
    assert key_text.splitlines()[1] not in out.stdout


@pytest.mark.parametrize(
    "token",
    ["abc\u2019def", "abc\u00e9", "abc\u0007def"],
    ids=["curly-quote-not-latin1", "latin1-letter", "control-character"],
)
def test_access_token_not_printable_ascii_is_one_line(
    emulator: Any, tmp_path: Path, token: str
) -> None:
    """A token pasted with a typographic quote or an accent: exit 2 and one sentence
    naming the file, never a traceback (UnicodeEncodeError in the header, TypeError in
    compare_digest after TransIP's 401), and never the token itself."""
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    _addr, cfg = address_config(tmp_path, emulator, "203.0.113.16")
    text = cfg.read_text().replace(
        "[transip]\n", f'[transip]\naccess_token_file = "{token_file}"\n'
    )
    cfg.write_text(text)
    sentence = (
        f"access token file {token_file} holds characters a TransIP token never has (only "
        "printable ASCII); write the token generated in the TransIP control panel to it"
    )

    once = run(["-c", str(cfg), "once"])
    assert (once.returncode, once.stdout) == (2, "")
    assert once.stderr.splitlines() == [f"ddnsd: {sentence}"]

    check = run(["-c", str(cfg), "check-config"])
    assert (check.returncode, check.stdout) == (2, "")
    assert check.stderr.splitlines() == [
        f"ddnsd: config file {cfg} has 1 problem",
        f"  - transip.access_token_file: {sentence}",
    ]
    assert home(emulator) == []
    assert emulator.request_count("GET", "/v6/domains/{domain}/dns") == 0


def test_check_config_hides_a_source_urls_password_and_query(
    tmp_path: Path, rsa_keypair: Any
) -> None:
    """As the log shows a source: user and host kept, password and query values ``***``."""
    import tomllib

    (tmp_path / "k.pem").write_bytes(rsa_keypair.private_key_path.read_bytes())
    (tmp_path / "k.pem").chmod(0o600)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"""
[transip]
login = "demo"
private_key_file = "k.pem"
[detect]
ipv4 = ["https://user:S3CRETPW@ip.example/?token=S3CRETTOK", "dns:opendns"]
ipv6 = ["https://ip6.example/v6?key=S3CRETKEY6"]
[state]
dir = "{tmp_path / "state"}"
"""
    )
    out = run(["-c", str(cfg), "check-config"])
    assert out.returncode == 0, out.stderr
    assert not [s for s in ("S3CRETPW", "S3CRETTOK", "S3CRETKEY6") if s in out.stdout + out.stderr]
    detect = tomllib.loads(out.stdout)["detect"]
    assert detect["ipv4"] == ["https://user:***@ip.example/?token=***", "dns:opendns"]
    assert detect["ipv6"] == ["https://ip6.example/v6?key=***"]


def test_ip_shows_each_source_and_the_agreement(tmp_path: Path, emulator: Any) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("203.0.113.20\n")
    b.write_text("203.0.113.20\n")
    detect = (
        f'[detect]\nipv4 = ["file:{a}", "file:{b}", "static:203.0.113.99"]\nagree = 2\n'
        "allow_private = true\n"
    )
    cfg = write_config(tmp_path / "c.toml", emulator, detect=detect)
    out = run(["-c", str(cfg), "ip"])
    assert out.returncode == 0, out.stderr
    assert f"file:{a}" in out.stdout and "static:203.0.113.99" in out.stdout
    assert "agreed: 203.0.113.20" in out.stdout
    b.write_text("203.0.113.21\n")
    out = run(["-c", str(cfg), "ip"])
    assert out.returncode == 1
    assert "agreed: none" in out.stdout


def test_version_and_help() -> None:
    out = run(["--version"])
    assert out.returncode == 0 and out.stdout.startswith("ddnsd ")
    out = run(["--help"])
    assert out.returncode == 0
    for cmd in ("run", "once", "check-config", "ip", "emulator", "demo", "present", "hook"):
        assert cmd in out.stdout


@pytest.mark.slow(9)
def test_demo_runs_and_shows_a_quiet_period() -> None:
    """`make demo` runs this: it must succeed and show zero API calls while nothing changes."""
    out = run(["demo", "--changes", "2"], timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[2] the address source now says 203.0.113.77" in out.stdout
    assert "PATCH /v6/domains/{domain}/dns 204" in out.stdout
    assert "API calls meanwhile: 0" in out.stdout


def test_log_format_json_one_object_per_line(emulator: Any, tmp_path: Path) -> None:
    import json

    addr = tmp_path / "address"
    addr.write_text("203.0.113.15\n")
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=addr)
    out = run(["--log-format", "json", "--log-level", "debug", "-c", str(cfg), "once"])
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert lines, "no log lines"
    assert {"ts", "level", "logger", "msg"} <= set(lines[0])
    assert any("203.0.113.15" in rec["msg"] for rec in lines)
    token_like = [rec for rec in lines if "eyJ" in json.dumps(rec)]
    assert token_like == []  # no JWT ever reaches the log, not even at debug


def test_check_config_prints_toml_that_loads_back(tmp_path: Path, rsa_keypair: Any) -> None:
    """Quotes, backslashes, blanks, unicode, long text: all survive (control characters are
    refused, see tests/unit/test_config_input.py)."""
    import tomllib

    import tomli_w

    from ddnsd.config.read import load

    hostile = "#[0m \"q\" 'a' \\ \\\\ ü名 " + "y" * 3000
    (tmp_path / "k.pem").write_bytes(rsa_keypair.private_key_path.read_bytes())
    (tmp_path / "k.pem").chmod(0o600)
    (tmp_path / "pw").write_text("pw\n")
    cfg = tmp_path / "c.toml"
    data = {
        "transip": {"login": hostile, "private_key_file": "k.pem", "token_lifetime": "2h"},
        "records": [{"domain": "example.test", "name": "home", "type": "A"}],
        "detect": {"ipv4": [f"file:/run/{hostile}", f"cmd:/bin/echo '{hostile[:9]}'"]},
        "state": {"dir": str(tmp_path / "state")},
        "acme": {"httpreq": {"username": hostile, "password": hostile}},
        "dyndns": {"username": hostile, "password_file": "pw", "hostnames": ["xn--bcher-kva.test"]},
    }
    cfg.write_text(tomli_w.dumps(data))
    out = run(["-c", str(cfg), "check-config"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"# effective configuration from {cfg} (secrets redacted)\n")
    assert tomllib.loads(out.stdout)["acme"]["httpreq"]["password"] == "********"
    printed = tmp_path / "printed.toml"
    inline = tomli_w.dumps({"password": hostile})  # the one value check-config hides
    printed.write_text(out.stdout.replace('password = "********"\n', inline))
    first = load(str(cfg), environ={})
    second = load(str(printed), environ={})
    assert second == first.with_source(second.source)
    assert second.transip.token_lifetime == "7200 seconds"
