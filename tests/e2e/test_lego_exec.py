"""lego --dns exec with EXEC_PATH = the ddnsd executable (default and RAW mode)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_support import (
    EmulatorLike,
    Pebble,
    assert_zone_clean,
    foreign_entries,
    lego_command,
    require_tool,
    run,
    venv_tool,
    verify_cert,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.mark.parametrize("mode", ["", "RAW"], ids=["default", "raw"])
def test_lego_exec_issues_apex_and_wildcard(
    emulator: EmulatorLike,
    pebble: Pebble,
    ddnsd_config: Callable[..., Path],
    tmp_path: Path,
    mode: str,
) -> None:
    lego, ddnsd = require_tool("lego"), venv_tool("ddnsd")
    config = ddnsd_config()
    before = foreign_entries(emulator)

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

    verify_cert(tmp_path / "lego" / "certificates" / "example.test.crt", pebble)
    assert_zone_clean(emulator, before)
