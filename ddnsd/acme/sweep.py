"""The daemon's periodic sweep: remove challenge TXT entries a crashed hook left behind."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ddnsd.acme.journal import Journal
from ddnsd.errors import DdnsdError

if TYPE_CHECKING:
    from ddnsd.acme.service import ChallengeService

log = logging.getLogger(__name__)


def sweep_stale(
    state_dir: Path,
    service: ChallengeService | None,
    make_service: Callable[[], ChallengeService],
) -> int:
    """Remove journal entries older than ``max_age``; how many were removed.

    ``service`` is the daemon's own (it serves ACME over HTTP); without one, hooks on this
    machine may still share the state dir, and a service is built only when the journal
    holds something. A failure is logged and retried at the next sweep.
    """
    if service is None:
        if not Journal(state_dir).entries():
            return 0
        service = make_service()
    try:
        removed = service.cleanup_stale()
    except DdnsdError as exc:
        log.warning("stale ACME entries not removed yet: %s", exc)
        return 0
    if removed:
        log.info("removed %d stale ACME challenge entr%s", removed, "y" if removed == 1 else "ies")
    return removed
