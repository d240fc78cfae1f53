"""A hook's global options, read without argparse when written out in full
(``cli._plain_globals``); everything else goes to argparse, which says what is wrong."""

from __future__ import annotations

import argparse

import pytest

from ddnsd import cli

PLAIN = {
    "none": ([], (None, "text", "INFO")),
    "-c FILE": (["-c", "/etc/x.toml"], ("/etc/x.toml", "text", "INFO")),
    "--config FILE": (["--config", "x.toml"], ("x.toml", "text", "INFO")),
    "--config=FILE": (["--config=a=b.toml"], ("a=b.toml", "text", "INFO")),
    "-c ''": (["-c", ""], ("", "text", "INFO")),
    "-c -": (["-c", "-"], ("-", "text", "INFO")),
    "json, debug": (
        ["--log-format", "json", "--log-level", "debug"],
        (None, "json", "DEBUG"),
    ),
    "= forms": (["--log-format=json", "--log-level=Warning"], (None, "json", "WARNING")),
    "last one wins": (["-c", "a", "--config", "b"], ("b", "text", "INFO")),
}

TO_ARGPARSE = {
    "abbreviation": ["--conf", "x.toml"],
    "-cFILE": ["-cx.toml"],
    "-c=FILE": ["-c=x.toml"],
    "missing value": ["-c"],
    "value looks like an option": ["-c", "--log-level"],
    "bad format": ["--log-format", "yaml"],
    "bad level": ["--log-level", "loud"],
    "help": ["-h"],
    "unknown option": ["--verbose"],
    "empty = form": ["--log-format="],
    "a bad level before a good one": ["--log-level=bogus", "--log-level=debug"],
    "a bad format before a good one": ["--log-format=xml", "--log-format", "json"],
    "an option as -c's value, then -c": ["-c", "--log-level", "-c", "f"],
}


def with_argparse(head: list[str]) -> tuple[str | None, str, str]:
    gp = argparse.ArgumentParser(add_help=False)
    cli._add_globals(gp, suppress=False)
    g, unknown = gp.parse_known_args(head)
    assert unknown == []
    return g.config, g.log_format, g.log_level


@pytest.mark.parametrize(("head", "expected"), PLAIN.values(), ids=PLAIN.keys())
def test_plain_options_read_as_argparse_reads_them(
    head: list[str], expected: tuple[str | None, str, str]
) -> None:
    assert cli._plain_globals(head) == expected
    assert with_argparse(head) == expected


@pytest.mark.parametrize("head", TO_ARGPARSE.values(), ids=TO_ARGPARSE.keys())
def test_anything_else_is_left_to_argparse(head: list[str]) -> None:
    assert cli._plain_globals(head) is None


USAGE = {
    "bad level": (["--log-level", "loud"], "argument --log-level: invalid choice: 'LOUD'"),
    "bad format": (["--log-format", "yaml"], "argument --log-format: invalid choice: 'yaml'"),
    "unknown option": (["--verbose"], "ddnsd: unknown option --verbose"),
    "a bad level, then a good one": (
        ["--log-level=bogus", "--log-level=info"],
        "argument --log-level: invalid choice: 'BOGUS'",
    ),
}


@pytest.mark.parametrize(("head", "line"), USAGE.values(), ids=USAGE.keys())
def test_usage_errors_exit_2_with_argparses_line(
    head: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*head, "present", "_acme-challenge.example.test.", "v"]) == 2
    assert line in capsys.readouterr().err


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
