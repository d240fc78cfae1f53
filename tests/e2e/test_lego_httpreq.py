"""lego --dns httpreq against ``ddnsd run``'s HTTP API (basic auth; default and RAW mode)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from e2e_support import (
    HTTPREQ_PASSWORD,
    EmulatorLike,
    Pebble,
    assert_zone_clean,
    challenge_entries,
    foreign_entries,
    free_port,
    lego_command,
    require_tool,
    run,
    running_daemon,
    verify_cert,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.mark.parametrize("mode", ["", "RAW"], ids=["default", "raw"])
def test_lego_httpreq_against_daemon_issues_apex_and_wildcard(
    emulator: EmulatorLike,
    pebble: Pebble,
    ddnsd_config: Callable[..., Path],
    tmp_path: Path,
    mode: str,
) -> None:
    lego = require_tool("lego")
    listen = f"127.0.0.1:{free_port()}"
    config = ddnsd_config(http_listen=listen)
    before = foreign_entries(emulator)

    with running_daemon(config, listen, tmp_path) as url:
        body = {"fqdn": "_acme-challenge.example.test.", "value": "x" * 43}
        anonymous = requests.post(f"{url}/acme/present", json=body, timeout=10)
        assert anonymous.status_code == 401
        assert foreign_entries(emulator) == before
        assert challenge_entries(emulator) == []

        run(
            lego_command(lego, pebble, tmp_path / "lego", "httpreq"),
            env={
                "LEGO_CA_CERTIFICATES": str(pebble.ca_bundle),
                "HTTPREQ_ENDPOINT": f"{url}/acme",
                "HTTPREQ_MODE": mode,
                "HTTPREQ_USERNAME": "lego",
                "HTTPREQ_PASSWORD": HTTPREQ_PASSWORD,
                "HTTPREQ_HTTP_TIMEOUT": "120",  # ddnsd answers only after propagation
                "HTTPREQ_PROPAGATION_TIMEOUT": "60",
                "HTTPREQ_POLLING_INTERVAL": "1",
            },
            timeout=180,
        )

    verify_cert(tmp_path / "lego" / "certificates" / "example.test.crt", pebble)
    assert_zone_clean(emulator, before)
