"""Fixtures for the end-to-end ACME tests (real Pebble, certbot, lego, dehydrated).

The emulator fixtures (``emulator``, ``emulator_factory``) come from tests/conftest.py.
Helpers live in ``e2e_support`` beside this file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    EmulatorLike,
    Pebble,
    TlsFiles,
    make_tls,
    start_pebble,
    write_ddnsd_config,
)


@pytest.fixture(scope="session")
def pebble_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throw-away CA and a 127.0.0.1/localhost/::1 certificate for Pebble's listeners."""
    return make_tls(tmp_path_factory.mktemp("pebble-tls"))


@pytest.fixture
def pebble_factory(pebble_tls: TlsFiles, tmp_path: Path) -> Iterator[Callable[[str], Pebble]]:
    """callable(dns_server) -> a started Pebble validating through that DNS server."""
    with ExitStack() as stack:
        count = 0

        def start(dns_server: str) -> Pebble:
            nonlocal count
            count += 1
            return stack.enter_context(
                start_pebble(tmp_path / f"pebble{count}", pebble_tls, dns_server)
            )

        yield start


@pytest.fixture
def pebble(pebble_factory: Callable[[str], Pebble], emulator: EmulatorLike) -> Pebble:
    """Pebble resolving through the ``emulator``'s authoritative DNS."""
    return pebble_factory(emulator.dns_server)


@pytest.fixture
def ddnsd_config(tmp_path: Path, emulator: EmulatorLike) -> Callable[..., Path]:
    """callable(**write_ddnsd_config options) -> path of a ddnsd config for ``emulator``."""

    def make(**kw: Any) -> Path:
        return write_ddnsd_config(tmp_path / "ddnsd", emulator, **kw)

    return make
