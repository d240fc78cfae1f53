"""Wait until every authoritative nameserver of a zone serves a TXT value.

Each server is asked directly (no recursive cache in between), every ``interval``
seconds, until all of them serve the value or ``timeout`` passes. Each server's state
is logged when it changes, so a slow wait shows what it is waiting for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from ddnsd import authdns
from ddnsd.authdns import Nameserver
from ddnsd.errors import DdnsdError, PropagationTimeout

logger = logging.getLogger(__name__)

QueryFn = Callable[[Nameserver, str, str], list[str]]


def wait_for_txt(
    fqdn: str,
    value: str,
    servers: Sequence[Nameserver],
    *,
    timeout: float = 600,
    interval: float = 1.0,
    query: QueryFn = authdns.query,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    log: logging.Logger = logger,
    served_after: dict[str, float] | None = None,
) -> float:
    """Return once every server serves TXT ``value`` at ``fqdn``; the seconds it took.

    Raises :class:`PropagationTimeout` naming the servers that still lag after ``timeout``.
    ``served_after`` (if given) receives each server's own time, by its name.
    """
    if not servers:
        raise DdnsdError(f"no nameserver to check {fqdn} TXT on; set [dns] nameservers")
    start = clock()
    pending: list[Nameserver] = list(servers)
    state: dict[Nameserver, str] = {}
    while True:
        still: list[Nameserver] = []
        for server in pending:
            try:
                served = value in query(server, fqdn, "TXT")
                new_state = "served" if served else "waiting"
                problem = ""
            except DdnsdError as exc:
                new_state, problem = "error", str(exc)
            elapsed = clock() - start
            if new_state == "served":
                log.info("%s: serves %s TXT after %.1f s", server, fqdn, elapsed)
                if served_after is not None:
                    served_after[str(server)] = round(elapsed, 3)
                continue
            still.append(server)
            if state.get(server) != new_state:
                if new_state == "waiting":
                    log.info("%s: waiting for %s TXT %r", server, fqdn, value)
                else:
                    log.warning("%s: no answer yet (%s); retrying", server, problem)
            state[server] = new_state
        pending = still
        if not pending:
            return clock() - start
        elapsed = clock() - start
        if elapsed >= timeout:
            names = ", ".join(str(s) for s in pending)
            raise PropagationTimeout(
                f"{fqdn} TXT was not served by {names} after {elapsed:.0f} s; "
                "check that these are the zone's nameservers, or raise acme.propagation_timeout",
                lagging=[str(s) for s in pending],
            )
        sleep(max(0.0, min(interval, timeout - elapsed)))
