"""The process environment that is not configuration: systemd's and hook callers' variables.

Besides :func:`ddnsd.config.read.load` (``DDNSD_*``, ``$CREDENTIALS_DIRECTORY``,
``$STATE_DIRECTORY``), the only reader of the process environment.
"""

from __future__ import annotations

import os


def process_env(name: str) -> str | None:
    """One variable of the process environment set by systemd or a hook caller.

    (NOTIFY_SOCKET, WATCHDOG_USEC, …) — routed through here so that the configuration
    package stays the only reader of the environment.
    """
    return os.environ.get(name)


def hook_environ() -> dict[str, str]:
    """The variables certbot passes to its hooks (dehydrated passes everything as arguments)."""
    return {k: v for k, v in os.environ.items() if k.startswith("CERTBOT_")}
