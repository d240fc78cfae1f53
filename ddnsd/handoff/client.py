"""The hook's side: hand ``present`` / ``cleanup`` / ``hook …`` to a running daemon.

Standard library only (with :mod:`ddnsd.config.places` to find the socket), so a hook that
a daemon serves starts in a fraction of ``import requests``. :func:`forward` returns None
when no daemon answers (no socket, or connection refused): the caller then does the work
in-process. Otherwise the daemon's progress lines go through this process's logging, its
final lines to stderr, and its exit code is returned: the same as in-process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ddnsd.config.places import hook_socket_candidates
from ddnsd.errors import EXIT_FAILED
from ddnsd.handoff import protocol
from ddnsd.handoff.protocol import ProtocolError, Request

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
#: The daemon reads the request and says "accepted" (or why not) within this.
ACCEPT_TIMEOUT = 30.0
#: Added to the daemon's own bound before the hook gives up on it.
MARGIN = 30.0
_NO_DAEMON = (FileNotFoundError, ConnectionRefusedError, NotADirectoryError, PermissionError)


@contextlib.contextmanager
def unix_address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits ``sun_path`` (108 bytes): long paths go through
    ``/proc/self/fd/N``, N a descriptor of the directory."""
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def connect(path: Path, timeout: float = CONNECT_TIMEOUT) -> socket.socket | None:
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
        log.debug("no daemon at %s: %s", path, exc)
        sock.close()
        return None
    return sock


def forward(
    command: str,
    args: Sequence[str],
    config_path: str | None,
    environ: Mapping[str, str],
    *,
    stderr: TextIO | None = None,
) -> int | None:
    """Hand the hook to the daemon; its exit code, or None when no daemon answers."""
    request = Request(command, tuple(args), dict(environ))
    for path in hook_socket_candidates(config_path):
        sock = connect(path)
        if sock is None:
            continue
        with sock:
            log.debug("handing %s to the daemon at %s", request.what, path)
            return _exchange(sock, request, path, stderr or sys.stderr)
    return None


def _exchange(sock: socket.socket, request: Request, path: Path, err: TextIO) -> int:
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
            log.debug("reading from %s: %s", path, exc)
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
            _emit(body)
        elif kind == "result":
            return _finish(body, err)


def _emit(body: Mapping[str, Any]) -> None:
    """A progress line of the daemon, through this process's logging (its format, its level)."""
    logger = logging.getLogger(str(body.get("logger") or "ddnsd"))
    level = logging.getLevelName(str(body.get("level", "INFO")))
    level = level if isinstance(level, int) else logging.INFO
    if not logger.isEnabledFor(level):
        return
    record = logger.makeRecord(
        logger.name, level, "(daemon)", 0, str(body.get("msg", "")), (), None
    )
    ts = body.get("ts")
    if isinstance(ts, int | float):
        record.created, record.msecs = float(ts), (float(ts) % 1) * 1000
    logger.handle(record)


def _finish(body: Mapping[str, Any], err: TextIO) -> int:
    for line in body.get("lines") or []:
        print(line, file=err)
    code = body.get("exit")
    return code if isinstance(code, int) else EXIT_FAILED


def _fail(err: TextIO, sentence: str) -> int:
    print(f"ddnsd: {sentence}", file=err)
    return EXIT_FAILED
