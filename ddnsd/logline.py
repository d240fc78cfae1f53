"""One log line in either ``--log-format``: text or JSON (standard library only).

:mod:`ddnsd.logs` formats this process's records through these functions, and a hook that
a daemon serves prints the daemon's progress lines through them without importing
:mod:`logging`: the same line either way.

In text format every control character of a message (newline, carriage return, escape,
NUL, U+2028, …) is written escaped the way ``repr`` writes it, so text from outside (a
request path, a name, an echo service's answer) can neither split a line nor forge one;
JSON escapes them itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from ddnsd.names import unsafe_character

#: ``--log-level`` names and their numbers (those of :mod:`logging`).
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def one_line(text: str) -> str:
    """``text`` with each control character escaped like ``repr`` escapes it."""
    if unsafe_character(text, spaces=False) is None:
        return text
    return "".join(repr(ch)[1:-1] if unsafe_character(ch, spaces=False) else ch for ch in text)


def text_line(created: float, msecs: float, level: str, logger: str, msg: str) -> str:
    """``2026-11-29 21:04:02,387 INFO    ddnsd.acme.writer: message`` (local time)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))
    return f"{stamp},{int(msecs):03d} {level:<7} {logger}: {one_line(msg)}"


def json_line(
    created: float,
    msecs: float,
    level: str,
    logger: str,
    msg: str,
    extra: Mapping[str, object] | None = None,
) -> str:
    """``{"ts": "…Z", "level": "info", "logger": …, "msg": …}`` plus ``extra``'s fields."""
    doc: dict[str, object] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(msecs):03d}Z",
        "level": level.lower(),
        "logger": logger,
        "msg": msg,
    }
    doc.update(extra or {})
    return json.dumps(doc, default=str)
