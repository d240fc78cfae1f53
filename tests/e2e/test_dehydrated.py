"""dehydrated (dns-01, HOOK_CHAIN=no and yes) with ``ddnsd hook dehydrated`` as its hook."""

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
    require_tool,
    run,
    venv_tool,
    verify_cert,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.mark.parametrize("hooks", HOOK_MODES)
@pytest.mark.parametrize("chain", ["no", "yes"], ids=["hook-chain-no", "hook-chain-yes"])
def test_dehydrated_issues_apex_and_wildcard(
    emulator: EmulatorLike,
    pebble: Pebble,
    ddnsd_config: Callable[..., Path],
    tmp_path: Path,
    chain: str,
    hooks: str,
) -> None:
    dehydrated, ddnsd = require_tool("dehydrated"), venv_tool("ddnsd")
    require_tool("curl")
    config = ddnsd_config(http_listen="")
    before = foreign_entries(emulator)

    base = tmp_path / "dehydrated"
    base.mkdir()
    hook = base / "hook.sh"  # HOOK is one executable path, so wrap the ddnsd command line
    hook.write_text(
        f'#!/bin/sh\nexec {shlex.quote(ddnsd)} -c {shlex.quote(str(config))} hook dehydrated "$@"\n'
    )
    hook.chmod(0o755)
    dconfig = base / "config"
    dconfig.write_text(
        f"BASEDIR={shlex.quote(str(base))}\n"
        f"CA={shlex.quote(pebble.directory_url)}\n"
        "CHALLENGETYPE=dns-01\n"
        f"HOOK={shlex.quote(str(hook))}\n"
        f"HOOK_CHAIN={chain}\n"
        f"CURL_OPTS={shlex.quote(f'--cacert {pebble.ca_bundle}')}\n"
    )

    run([dehydrated, "-f", str(dconfig), "--register", "--accept-terms"], timeout=60)
    with hooks_served_by(hooks, config, tmp_path) as served:
        run(
            [dehydrated, "-f", str(dconfig), "-c", "-d", "example.test", "-d", "*.example.test"],
            timeout=180,
        )
        # every handler call goes to the daemon, the challenge ones and the others alike
        assert (served() >= (2 if chain == "yes" else 4)) if hooks == "daemon" else served() == 0

    certs = base / "certs" / "example.test"
    verify_cert(certs / "fullchain.pem", pebble)
    verify_cert(certs / "cert.pem", pebble, chain_path=certs / "chain.pem")
    assert_zone_clean(emulator, before)
