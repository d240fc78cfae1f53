"""TransIP's rate limit: ``limit`` requests per login in a sliding 15-minute window.

Every ``/v6`` answer carries ``X-Rate-Limit-Limit``, ``X-Rate-Limit-Remaining`` and
``X-Rate-Limit-Reset`` (Unix time when the oldest counted request leaves the window).
A request past the limit is refused with 429 ``Rate limit of N requests per 15 minutes
exceeded; retry after <reset>`` and is not counted in the window. ``window`` (seconds,
``--rate-limit-window``) shortens the 15 minutes so tests and benchmarks see whole
windows pass in seconds; the texts then name that window.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable

from ddnsd.emulator.httpserver import Reply, error

WINDOW = 15 * 60


class RateLimiter:
    """Sliding windows per login; thread-safe."""

    def __init__(
        self, limit: int, window: float = WINDOW, clock: Callable[[], float] = time.time
    ) -> None:
        if window <= 0:
            raise ValueError(f"the rate-limit window must be positive, not {window}")
        self.limit = limit
        self.window = float(window)
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, collections.deque[float]] = {}

    def check(self, login: str) -> tuple[dict[str, str], bool]:
        """Count one request for ``login``: (X-Rate-Limit-* headers, allowed)."""
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault(login, collections.deque())
            while window and window[0] <= now - self.window:
                window.popleft()
            allowed = len(window) < self.limit
            if allowed:
                window.append(now)
            reset = window[0] + self.window if window else now + self.window
            return self._headers(len(window), reset), allowed

    def fresh_headers(self) -> dict[str, str]:
        """The headers of an answer sent before the login is known (nothing counted)."""
        return self._headers(0, self._clock() + self.window)

    def refusal(self, headers: dict[str, str]) -> Reply:
        """The 429 for a request :meth:`check` did not allow."""
        return error(
            429,
            f"Rate limit of {self.limit} requests per {self._window_text()} "
            f"exceeded; retry after {headers['X-Rate-Limit-Reset']}",
        )

    def throttle(self, seconds: float) -> Reply:
        """A 429 whose ``X-Rate-Limit-Reset`` lies ``seconds`` ahead (the ``ratelimit`` fault)."""
        headers = self._headers(self.limit, self._clock() + max(seconds, 0.0))
        reply = self.refusal(headers)
        reply.headers.update(headers)
        return reply

    def _window_text(self) -> str:
        if self.window == WINDOW:
            return "15 minutes"
        return f"{self.window:g} seconds"

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def _headers(self, used: int, reset: float) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.limit - used)),
            "X-Rate-Limit-Reset": str(math.ceil(reset)),
        }
