"""Logging set-up: ``--log-format text|json`` and ``--log-level``.

One event, one line, formatted by :mod:`ddnsd.logline` (control characters escaped in
text format). Tracebacks keep their lines.
"""

from __future__ import annotations

import logging
import sys

from ddnsd.logline import json_line, text_line

_STD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, plus any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        extra = {
            k: v for k, v in record.__dict__.items() if k not in _STD and not k.startswith("_")
        }
        if record.exc_info:
            extra["exc"] = self.formatException(record.exc_info)
        return json_line(
            record.created, record.msecs, record.levelname, record.name, record.getMessage(), extra
        )


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger: message``, the message kept on one line (control characters
    escaped: :func:`ddnsd.logline.one_line`)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        r = record
        return text_line(r.created, r.msecs, r.levelname, r.name, r.message)


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
