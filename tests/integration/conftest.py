"""Fixtures for the integration tests (the emulator's are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from daemon_support import DaemonProcess


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    """Daemons a test starts (append them); each is stopped after the test."""
    started: list[DaemonProcess] = []
    yield started
    for d in started:
        d.stop()
