"""ddnsd.emulator.ratelimit: the sliding window, on an injected clock."""

from __future__ import annotations

import pytest
from clock_support import Clock

from ddnsd.emulator.ratelimit import RateLimiter

# (id, limit, window, seconds between requests, allowed per request, last Remaining, last Reset)
WINDOWS = [
    ("fills-up", 3, 900.0, [0, 1, 1, 1], [True, True, True, False], "0", "1900"),
    ("slides", 2, 10.0, [0, 5, 4, 1], [True, True, False, True], "0", "1015"),
    ("all-gone", 2, 10.0, [0, 0, 30, 0], [True, True, True, True], "0", "1040"),
    ("429-not-counted", 1, 10.0, [0, 9.5, 0.5], [True, False, True], "0", "1020"),
]


@pytest.mark.parametrize(
    ("limit", "window", "steps", "allowed", "remaining", "reset"),
    [w[1:] for w in WINDOWS],
    ids=[w[0] for w in WINDOWS],
)
def test_sliding_window(
    limit: int,
    window: float,
    steps: list[float],
    allowed: list[bool],
    remaining: str,
    reset: str,
) -> None:
    clock = Clock()
    limiter = RateLimiter(limit, window, clock)
    got = []
    for step in steps:
        clock.now += step
        headers, ok = limiter.check("demo")
        got.append(ok)
    assert got == allowed
    assert (headers["X-Rate-Limit-Remaining"], headers["X-Rate-Limit-Reset"]) == (remaining, reset)


def test_throttle_names_a_reset_ahead_and_counts_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(5, 10.0, clock)
    reply = limiter.throttle(30)
    assert reply.status == 429
    assert reply.headers == {
        "X-Rate-Limit-Limit": "5",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": "1030",
    }
    assert reply.body == {
        "error": "Rate limit of 5 requests per 10 seconds exceeded; retry after 1030"
    }
    assert limiter.check("demo")[0]["X-Rate-Limit-Remaining"] == "4"


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RateLimiter(1, 0)
