"""The daemon's ACME work: hooks handed over the socket, and the sweep of stale values.

Both use the challenge service of the running configuration: the HTTP API's when the
daemon serves one, else one built on the daemon's own client, so the daemon's token,
request budget and journal serve every hook. A hook's request runs through the same
front door (:func:`ddnsd.acme.hooks.dispatch`) as in a hook process of its own.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ddnsd import wiring

if TYPE_CHECKING:
    from ddnsd.acme.service import ChallengeService
    from ddnsd.config.models import Settings
    from ddnsd.handoff.protocol import HookRequest
    from ddnsd.observe.events import EventSink
    from ddnsd.transip.client import TransipClient


class Parts(Protocol):
    """What the daemon built from its configuration (``ddnsd.daemon.Parts``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def client(self) -> TransipClient: ...

    @property
    def acme(self) -> ChallengeService | None: ...


class DaemonAcme:
    """ACME in the daemon, for the configuration ``parts()`` returns (it changes on reload)."""

    def __init__(self, parts: Callable[[], Parts], events: EventSink | None = None) -> None:
        self._parts = parts
        self._events = events  # the reporter's: the hooks' challenges become its events
        self._lock = threading.Lock()
        self._built: tuple[Parts, ChallengeService] | None = None

    @property
    def settings(self) -> Settings:
        return self._parts().settings

    def service(self) -> ChallengeService:
        parts = self._parts()
        if parts.acme is not None:
            return parts.acme
        with self._lock:
            if self._built is None or self._built[0] is not parts:
                service = wiring.make_challenge_service(
                    parts.settings, parts.client, events=self._events
                )
                self._built = (parts, service)
            return self._built[1]

    def run(self, request: HookRequest) -> tuple[int, list[str]]:
        """A hook's request, as its own process would run it: exit code and stderr lines."""
        from ddnsd.acme import hooks

        err = io.StringIO()
        code = hooks.dispatch(request.command, request.args, self.service, request.env, stderr=err)
        return code, err.getvalue().splitlines()

    def sweep(self) -> None:
        """Remove challenge TXT values crashed hooks left behind (older than ``max_age``, or
        pending removal), also those of hooks that share the state dir without HTTP ACME."""
        from ddnsd.acme.service import sweep_journal

        sweep_journal(wiring.prepared_state(self._parts().settings), self.service)
