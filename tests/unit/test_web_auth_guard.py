"""The listener's lock-out of clients that keep sending wrong credentials (web/wsgi.py)."""

from __future__ import annotations

import pytest
from clock_support import Clock

from ddnsd.web.wsgi import AuthGuard


@pytest.fixture
def guard_and_clock() -> tuple[AuthGuard, Clock]:
    clock = Clock()
    return AuthGuard(max_failures=3, window=60.0, clock=clock), clock


def test_three_failures_lock_out_until_the_window_ends(
    guard_and_clock: tuple[AuthGuard, Clock],
) -> None:
    guard, clock = guard_and_clock
    for _ in range(2):
        guard.failed("192.0.2.1")
    assert guard.retry_after("192.0.2.1") == 0
    guard.failed("192.0.2.1")
    assert guard.retry_after("192.0.2.1") == 61
    clock.now += 30
    assert guard.retry_after("192.0.2.1") == 31
    assert guard.retry_after("192.0.2.2") == 0  # per client
    clock.now += 30
    assert guard.retry_after("192.0.2.1") == 0
    guard.failed("192.0.2.1")  # a new window starts with one failure
    assert guard.retry_after("192.0.2.1") == 0


def test_a_success_forgets_the_failures(guard_and_clock: tuple[AuthGuard, Clock]) -> None:
    guard, _ = guard_and_clock
    guard.failed("192.0.2.1")
    guard.failed("192.0.2.1")
    guard.succeeded("192.0.2.1")
    guard.failed("192.0.2.1")
    assert guard.retry_after("192.0.2.1") == 0


def test_a_flood_of_addresses_keeps_the_table_bounded(
    guard_and_clock: tuple[AuthGuard, Clock],
) -> None:
    """20,000 addresses each failing once within the window: the table holds at most
    MAX_CLIENTS, the newest; a client locked out just before the flood's end stays locked."""
    guard, clock = guard_and_clock
    for i in range(20_000):
        guard.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        clock.now += 0.001
    for _ in range(3):
        guard.failed("192.0.2.9")
    assert len(guard._failures) <= AuthGuard.MAX_CLIENTS
    assert guard.retry_after("192.0.2.9") > 0
    assert "10.0.78.31" in guard._failures  # 19,999: among the newest
    assert "10.0.0.0" not in guard._failures  # the oldest went first


def test_stale_entries_leave_as_new_failures_come(
    guard_and_clock: tuple[AuthGuard, Clock],
) -> None:
    guard, clock = guard_and_clock
    for i in range(100):
        guard.failed(f"192.0.2.{i}")
    clock.now += 61
    guard.failed("198.51.100.1")
    assert list(guard._failures) == ["198.51.100.1"]
