"""Logging set-up: ``--log-format text|json`` and ``--log-level``.

One event, one line: in text format every control character of a message (newline,
carriage return, escape, NUL, U+2028, …) is written escaped the way ``repr`` writes it,
so text from outside (a request path, a name, an echo service's answer) can neither split
a line nor forge one; JSON escapes them itself. Tracebacks keep their lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from ddnsd.names import unsafe_character

_STD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, plus any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _STD and not k.startswith("_"):
                doc[k] = v
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def one_line(text: str) -> str:
    """``text`` with each control character escaped like ``repr`` escapes it."""
    if unsafe_character(text, spaces=False) is None:
        return text
    return "".join(repr(ch)[1:-1] if unsafe_character(ch, spaces=False) else ch for ch in text)


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger: message``, the message kept on one line (see :func:`one_line`)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


def setup(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter stays at WARNING unless debugging.
    if level.upper() != "DEBUG":
        for name in ("urllib3", "apscheduler", "requests"):
            logging.getLogger(name).setLevel(logging.WARNING)
