"""The hook's side: hand ``present`` / ``cleanup`` / ``hook …`` to a running daemon.

Standard library only, and the config file read only for where the daemon listens
(:func:`ddnsd.config.places.hook_sockets`): neither the configuration models nor an HTTP
client, which the daemon already holds. :func:`forward` returns None when no
daemon answers (no socket, or connection refused): the caller then does the work
in-process. Otherwise the daemon's progress lines are printed in this process's log
format and level (:mod:`ddnsd.logline`), its final lines go to stderr, and its exit code
is returned: the same as in-process.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ddnsd.config.places import hook_sockets
from ddnsd.errors import EXIT_FAILED
from ddnsd.handoff import protocol
from ddnsd.handoff.protocol import HookRequest, ProtocolError
from ddnsd.logline import LEVELS, json_line, text_line

CONNECT_TIMEOUT = 5.0
#: The daemon reads the request and says "accepted" (or why not) within this.
ACCEPT_TIMEOUT = 30.0
#: Added to the daemon's own bound before the hook gives up on it.
MARGIN = 30.0
_NO_DAEMON = (FileNotFoundError, ConnectionRefusedError, NotADirectoryError, PermissionError)


class Printer:
    """Log lines in the format and at the level of ``--log-format`` / ``--log-level``."""

    def __init__(self, fmt: str = "text", level: str = "INFO", stream: TextIO | None = None):
        self.json = fmt == "json"
        self.level = LEVELS.get(level.upper(), LEVELS["INFO"])
        self.stream = stream

    def emit(self, level: str, logger: str, msg: str, ts: float | None = None) -> None:
        if LEVELS.get(level, LEVELS["INFO"]) < self.level:
            return
        created = time.time() if ts is None else ts
        line = json_line if self.json else text_line
        stream = self.stream or sys.stderr
        print(line(created, (created % 1) * 1000, level, logger, msg), file=stream, flush=True)


@contextlib.contextmanager
def unix_address(path: str | Path) -> Iterator[str]:
    """An address for ``path`` that fits ``sun_path`` (108 bytes): long paths go through
    ``/proc/self/fd/N``, N a descriptor of the directory."""
    where = os.fspath(path)
    if len(os.fsencode(where)) < 100:
        yield where
        return
    fd = os.open(os.path.dirname(where) or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(where)}"
    finally:
        os.close(fd)


def connect(
    path: str | Path, timeout: float = CONNECT_TIMEOUT, printer: Printer | None = None
) -> socket.socket | None:
    """A connection to the daemon at ``path``; None when nobody listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with unix_address(path) as address:
            sock.connect(address)
    except _NO_DAEMON:
        sock.close()
        return None
    except OSError as exc:
        if printer is not None:
            printer.emit("DEBUG", __name__, f"no daemon at {path}: {exc}")
        sock.close()
        return None
    return sock


def forward(
    command: str,
    args: Sequence[str],
    config_path: str | None,
    environ: Mapping[str, str],
    *,
    printer: Printer | None = None,
    stderr: TextIO | None = None,
) -> int | None:
    """Hand the hook to the daemon; its exit code, or None when no daemon answers."""
    printer = printer or Printer()
    request = HookRequest(command, tuple(args), dict(environ))
    for path in hook_sockets(config_path, os.environ):
        sock = connect(path, printer=printer)
        if sock is None:
            continue
        with sock:
            printer.emit("DEBUG", __name__, f"handing {request.what} to the daemon at {path}")
            return _exchange(sock, request, path, printer, stderr or sys.stderr)
    return None


def _exchange(
    sock: socket.socket, request: HookRequest, path: Path, printer: Printer, err: TextIO
) -> int:
    with contextlib.suppress(OSError):  # a refusing daemon may close first: read its line
        sock.sendall(protocol.encode_request(request))
    reader = sock.makefile("rb")
    deadline = time.monotonic() + ACCEPT_TIMEOUT
    started = False
    where = f"the daemon at {path}"
    while True:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            line = reader.readline(protocol.MAX_REQUEST)
        except TimeoutError:
            doing = "finish" if started else "take"
            return _fail(err, f"{where} did not {doing} the {request.what} in time; see its log")
        except OSError as exc:
            line = b""
            printer.emit("DEBUG", __name__, f"reading from {path}: {exc}")
        if not line:
            return _fail(
                err,
                f"{where} stopped before the {request.what} finished (it exited or restarted); "
                "run the ACME client again once the daemon is back",
            )
        try:
            kind, body = protocol.decode_message(line)
        except ProtocolError as exc:
            return _fail(err, f"{where} sent a line this hook cannot read ({exc})")
        if kind == "accepted":
            started = True
            deadline = time.monotonic() + float(body.get("timeout", 0)) + MARGIN
        elif kind == "log":
            _emit(printer, body)
        elif kind == "result":
            return _finish(body, err)


def _emit(printer: Printer, body: Mapping[str, Any]) -> None:
    """A progress line of the daemon, in this process's format and at its level."""
    ts = body.get("ts")
    level = str(body.get("level", "INFO")).upper()
    logger = str(body.get("logger") or "ddnsd")
    msg = str(body.get("msg", ""))
    printer.emit(level if level in LEVELS else "INFO", logger, msg, ts if _number(ts) else None)


def _number(value: object) -> bool:
    """A finite, plausible Unix time (a NaN or infinity would break the time functions)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e11


def _finish(body: Mapping[str, Any], err: TextIO) -> int:
    for line in body.get("lines") or []:
        print(line, file=err)
    code = body.get("exit")
    return code if isinstance(code, int) else EXIT_FAILED


def _fail(err: TextIO, sentence: str) -> int:
    print(f"ddnsd: {sentence}", file=err)
    return EXIT_FAILED
