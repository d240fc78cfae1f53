"""Campaigns: many seeded cases of one kind of trouble, counted instead of sampled.

Each campaign test runs its base number of cases times ``campaign_scale`` (1 with the
default ``--campaign-size quick`` in ``make test``; 10 with ``make campaigns``) and
records one row of figures with the ``figures`` fixture. Every campaign asserts its bad
figures (orphans, 5xx, unintended writes, tracebacks, secrets found) are zero at every
size. The table of rows is printed at the end of the run; ``make campaigns``' table
goes into the README. (``--campaign-size`` is declared in tests/conftest.py.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from campaign_support import SIZES, check_row, table

# Campaigns drive the real command like the integration tests do: share their helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

_ROWS: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="session")
def campaign_scale(request: pytest.FixtureRequest) -> int:
    """Multiply a campaign's base number of cases by this."""
    return SIZES[str(request.config.getoption("--campaign-size"))]


@pytest.fixture
def figures() -> Callable[..., None]:
    """``figures(name, cases=…, faults={kind: n}, orphans=…, …)`` records a campaign's row."""

    def record(name: str, **row: Any) -> None:
        check_row(row)
        _ROWS[name] = row

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _ROWS:
        return
    terminalreporter.write_sep("=", "campaign figures")
    for line in table(_ROWS):
        terminalreporter.write_line(line)
