"""certbot --manual with ddnsd's certbot hooks gets an apex + wildcard certificate from Pebble."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_support import (
    HOOK_MODES,
    EmulatorLike,
    Pebble,
    assert_zone_clean,
    foreign_entries,
    hooks_served_by,
    run,
    venv_tool,
    verify_cert,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def certbot_command(certbot: str, hook: str, pebble: Pebble, workdir: Path) -> list[str]:
    return [
        certbot,
        "certonly",
        "--manual",
        "--preferred-challenges",
        "dns",
        "--manual-auth-hook",
        f"{hook} certbot-auth",
        "--manual-cleanup-hook",
        f"{hook} certbot-cleanup",
        "-d",
        "example.test",
        "-d",
        "*.example.test",
        "--server",
        pebble.directory_url,
        "--config-dir",
        str(workdir / "config"),
        "--work-dir",
        str(workdir / "work"),
        "--logs-dir",
        str(workdir / "logs"),
        "--agree-tos",
        "--register-unsafely-without-email",
        "--non-interactive",
    ]


@pytest.mark.parametrize("mode", HOOK_MODES)
def test_certbot_manual_hooks_issue_apex_and_wildcard(
    emulator: EmulatorLike,
    pebble: Pebble,
    ddnsd_config: Callable[..., Path],
    tmp_path: Path,
    mode: str,
) -> None:
    certbot, ddnsd = venv_tool("certbot"), venv_tool("ddnsd")
    config = ddnsd_config(http_listen="")
    before = foreign_entries(emulator)
    hook = f"{shlex.quote(ddnsd)} -c {shlex.quote(str(config))} hook"

    with hooks_served_by(mode, config, tmp_path) as served:
        run(
            certbot_command(certbot, hook, pebble, tmp_path / "certbot"),
            env={
                "REQUESTS_CA_BUNDLE": str(pebble.ca_bundle),
                "XDG_CONFIG_HOME": str(tmp_path / "xdg"),  # no stray cli.ini from the user
            },
            timeout=180,
        )
        assert served() == (4 if mode == "daemon" else 0)  # two auth, two cleanup hooks
    assert emulator.request_count("POST", "/v6/auth") == 1  # type: ignore[attr-defined]

    live = tmp_path / "certbot" / "config" / "live" / "example.test"
    verify_cert(live / "fullchain.pem", pebble)
    verify_cert(live / "cert.pem", pebble, chain_path=live / "chain.pem")
    assert_zone_clean(emulator, before)
