"""A daemon's progress line printed by a forwarded hook (``handoff.client.Printer``, no
logging module) is the line this process's own logging would print (``ddnsd.logs``)."""

from __future__ import annotations

import calendar
import io
import json
import logging
import time

import pytest

from ddnsd import logs
from ddnsd.handoff.client import Printer, _emit

CREATED = 1795986242.3877234  # 2026-11-29, a fractional second that rounds badly

MESSAGES = {
    "plain": "adding _acme-challenge.example.test TXT 'abc'",
    "newline forging a line": "x\n2026-11-29 00:00:00,000 ERROR   ddnsd: forged",
    "escape sequence": "\x1b[31mred\x1b[0m",
    "carriage return and NUL": "a\rb\x00c",
    "line separator U+2028": "a\u2028b",
    "unicode kept": "ü名 — fine",
    "percent signs": "100% %s %(x)s",
}


def via_logging(fmt: str, level: str, name: str, msg: str) -> str:
    record = logging.LogRecord(name, logging.getLevelName(level), "(daemon)", 0, msg, (), None)
    record.created, record.msecs = CREATED, (CREATED % 1) * 1000
    formatter = logs.JsonFormatter() if fmt == "json" else logs.TextFormatter()
    return formatter.format(record)


def via_printer(fmt: str, level: str, name: str, msg: str, printer_level: str = "DEBUG") -> str:
    out = io.StringIO()
    Printer(fmt, printer_level, out).emit(level, name, msg, CREATED)
    return out.getvalue().removesuffix("\n")


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
@pytest.mark.parametrize("msg", MESSAGES.values(), ids=MESSAGES.keys())
def test_printer_writes_the_line_logging_writes(fmt: str, level: str, msg: str) -> None:
    expected = via_logging(fmt, level, "ddnsd.acme.writer", msg)
    got = via_printer(fmt, level, "ddnsd.acme.writer", msg)
    assert got == expected
    assert "\n" not in got  # one event, one line, whatever the message holds
    if fmt == "json":
        assert json.loads(got)["msg"] == msg


LEVELS = [
    # (printer's --log-level, line's level, printed?)
    ("INFO", "DEBUG", False),
    ("INFO", "INFO", True),
    ("INFO", "WARNING", True),
    ("WARNING", "INFO", False),
    ("ERROR", "WARNING", False),
    ("ERROR", "ERROR", True),
    ("DEBUG", "DEBUG", True),
    ("debug", "DEBUG", True),
]


@pytest.mark.parametrize(("printer_level", "level", "printed"), LEVELS)
def test_printer_keeps_to_the_hooks_log_level(
    printer_level: str, level: str, printed: bool
) -> None:
    assert bool(via_printer("text", level, "ddnsd", "m", printer_level)) is printed


BODIES = {
    "no ts": {"level": "INFO", "logger": "ddnsd.x", "msg": "m"},
    "NaN ts": {"ts": float("nan"), "level": "INFO", "logger": "ddnsd.x", "msg": "m"},
    "infinite ts": {"ts": float("inf"), "level": "INFO", "logger": "ddnsd.x", "msg": "m"},
    "huge ts": {"ts": 1e300, "level": "INFO", "logger": "ddnsd.x", "msg": "m"},
    "ts a string": {"ts": "yesterday", "level": "INFO", "logger": "ddnsd.x", "msg": "m"},
    "ts a bool": {"ts": True, "level": "INFO", "logger": "ddnsd.x", "msg": "m"},
    "unknown level": {"ts": CREATED, "level": "LOUD", "logger": "ddnsd.x", "msg": "m"},
    "no logger": {"ts": CREATED, "level": "INFO", "msg": "m"},
    "msg not a string": {"ts": CREATED, "level": "INFO", "logger": "ddnsd.x", "msg": [1]},
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_a_careless_daemon_line_is_still_one_line_now(body: dict[str, object]) -> None:
    """What the daemon sends is printed as one INFO-or-above line; a time that is not a
    plausible Unix time is replaced by now rather than crashing the hook."""
    out = io.StringIO()
    before = time.time()
    _emit(Printer("json", "INFO", out), body)
    after = time.time()
    line = json.loads(out.getvalue())
    assert line["level"] in ("info", "debug", "warning", "error")
    assert line["logger"] == body.get("logger", "ddnsd")
    ts = body.get("ts")
    if not (isinstance(ts, float) and 0 <= ts < 1e11):
        printed = calendar.timegm(time.strptime(line["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert int(before) <= printed <= after


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
def test_text_lines_keep_the_documented_layout(level: str) -> None:
    """``ts LEVEL logger: message`` exactly as logging's own formatter lays it out (what
    people's log parsers were written against)."""
    stock = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    record = logging.LogRecord("ddnsd.x", logging.getLevelName(level), "", 0, "a msg", (), None)
    record.created, record.msecs = CREATED, (CREATED % 1) * 1000
    assert via_printer("text", level, "ddnsd.x", "a msg") == stock.format(record)
    assert logs.TextFormatter().format(record) == stock.format(record)
