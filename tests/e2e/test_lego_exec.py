"""lego --dns exec with EXEC_PATH = the ddnsd executable (default and RAW mode)."""

from __future__ import annotations

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
    lego_command,
    require_tool,
    run,
    venv_tool,
    verify_cert,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.mark.parametrize("hooks", HOOK_MODES)
@pytest.mark.parametrize("mode", ["", "RAW"], ids=["default", "raw"])
def test_lego_exec_issues_apex_and_wildcard(
    emulator: EmulatorLike,
    pebble: Pebble,
    ddnsd_config: Callable[..., Path],
    tmp_path: Path,
    mode: str,
    hooks: str,
) -> None:
    lego, ddnsd = require_tool("lego"), venv_tool("ddnsd")
    config = ddnsd_config(http_listen="")
    before = foreign_entries(emulator)

    with hooks_served_by(hooks, config, tmp_path) as served:
        run(
            lego_command(lego, pebble, tmp_path / "lego", "exec"),
            env={
                "LEGO_CA_CERTIFICATES": str(pebble.ca_bundle),
                "EXEC_PATH": ddnsd,  # one executable: the config comes from $DDNSD_CONFIG
                "EXEC_MODE": mode,
                "EXEC_SEQUENCE_INTERVAL": "1",
                "EXEC_PROPAGATION_TIMEOUT": "60",
                "EXEC_POLLING_INTERVAL": "1",
                "DDNSD_CONFIG": str(config),
            },
            timeout=180,
        )
        assert served() == (4 if hooks == "daemon" else 0)  # two present, two cleanup

    verify_cert(tmp_path / "lego" / "certificates" / "example.test.crt", pebble)
    assert_zone_clean(emulator, before)
