"""tests/system run by themselves, after the rest (``make test`` runs them apart): the
Debian root they boot is built once per run, and Docker's engine must not run beside
the tests that build network namespaces (it turns the host's FORWARD policy to DROP)."""

from __future__ import annotations

from pathlib import Path

import pytest
from system_support import debian_root_tarball, require


@pytest.fixture(scope="session")
def debian_tarball() -> Path:
    """The debootstrapped Debian 12 root (cached; made on the first run, ~3 minutes)."""
    require("debootstrap", "systemd-nspawn", "nsenter", "tar")
    return debian_root_tarball()
