"""How the ACME front doors split ddnsd's own options from the hook's arguments, and what
a hook says about a bad option or -h."""

from __future__ import annotations

import pytest

from ddnsd import cli
from ddnsd.cli import _split_passthrough

CASES = [
    (
        "lego-default",
        ["present", "_acme-challenge.a.test.", "V"],
        [],
        ["_acme-challenge.a.test.", "V"],
    ),
    ("lego-raw", ["present", "--", "a.test", "T", "K"], [], ["--", "a.test", "T", "K"]),
    ("config-before", ["-c", "c.toml", "hook", "certbot-auth"], ["-c", "c.toml"], ["certbot-auth"]),
    (
        "config-after-command",
        ["hook", "-c", "c.toml", "certbot-auth"],
        ["-c", "c.toml"],
        ["certbot-auth"],
    ),
    (
        "config-at-end",
        ["hook", "certbot-auth", "--config", "c.toml"],
        ["--config", "c.toml"],
        ["certbot-auth"],
    ),
    ("config-equals", ["cleanup", "--config=c.toml", "F", "V"], ["--config=c.toml"], ["F", "V"]),
    (
        "raw-keeps-dash-c-after-double-dash",
        ["present", "--", "-c", "x", "y"],
        [],
        ["--", "-c", "x", "y"],
    ),
    (
        "dehydrated-chain",
        ["--log-level", "debug", "hook", "dehydrated", "deploy_challenge", "a", "t", "v"],
        ["--log-level", "debug"],
        ["dehydrated", "deploy_challenge", "a", "t", "v"],
    ),
]


@pytest.mark.parametrize(
    ("argv", "head", "rest"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_split(argv: list[str], head: list[str], rest: list[str]) -> None:
    split = _split_passthrough(argv)
    assert split is not None
    got_head, command, got_rest = split
    assert (got_head, got_rest) == (head, rest)
    assert command in ("present", "cleanup", "hook")


@pytest.mark.parametrize("argv", [["run"], ["-c", "x", "once", "--dry-run"], [], ["--version"]])
def test_other_commands_go_to_argparse(argv: list[str]) -> None:
    assert _split_passthrough(argv) is None


LEVELS = "(choose from 'DEBUG', 'INFO', 'WARNING', 'ERROR')"
USAGE = {
    "bad level": (
        ["--log-level", "loud"],
        f"ddnsd present: error: argument --log-level: invalid choice: 'LOUD' {LEVELS}",
    ),
    "bad format": (
        ["--log-format", "yaml"],
        "ddnsd present: error: argument --log-format: invalid choice: 'yaml' "
        "(choose from 'text', 'json')",
    ),
    "unknown option": (["--verbose"], "ddnsd: unknown option --verbose"),
    "-h before the command": (["-h"], "ddnsd: unknown option -h"),
    "a bad level, then a good one": (
        ["--log-level=bogus", "--log-level=info"],
        f"ddnsd present: error: argument --log-level: invalid choice: 'BOGUS' {LEVELS}",
    ),
}


@pytest.mark.parametrize(("argv", "line"), USAGE.values(), ids=USAGE.keys())
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse reads ddnsd's options around a hook's arguments, before any config."""
    hook = ["present", "_acme-challenge.example.test.", "v"]
    assert cli.main(["-c", "/nonexistent/ddnsd.toml", *argv, *hook]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == line
    assert out == ""


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("command", ["present", "cleanup", "hook"])
def test_a_hooks_help_is_exit_0_on_stdout_without_a_config(
    command: str, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["-c", "/nonexistent/ddnsd.toml", command, flag]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"usage: ddnsd [-c FILE] {command} ")
    assert "Exit 0 done, 1 failed, 2 usage or configuration, 3 " in out
    assert err == ""


def test_help_as_a_hook_argument_is_still_an_argument(capsys: pytest.CaptureFixture[str]) -> None:
    """Only a lone -h/--help is a request for help: ``present -h VALUE`` is lego's usage."""
    assert cli.main(["-c", "/nonexistent/ddnsd.toml", "present", "-h", "v", "w"]) == 2
    assert "usage:" not in capsys.readouterr().out
