"""How the ACME front doors split ddnsd's own options from the hook's arguments."""

from __future__ import annotations

import pytest

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
