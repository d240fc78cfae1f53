"""The daemon's hook socket: one thread per connected hook, its progress relayed back.

The socket file is mode 0666: who may use it is decided per connection from the kernel's
``SO_PEERCRED`` (:mod:`ddnsd.handoff.peers`), so a refused user is told why instead of
getting "permission denied". Every connection ends with one ``result`` line, also a
request that is refused, unreadable, or not sent within :data:`READ_TIMEOUT`.

The peer is checked in the accepting thread, before the connection takes one of the
:data:`MAX_HOOKS` slots: a refused user is answered at once and never holds a slot, and
the "refused" warning is logged at most once per :data:`REFUSED_LOG_EVERY` seconds (with
the count of those left out), so a flood of refused connects cannot flood the log either.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ddnsd.errors import EXIT_FAILED, EXIT_USAGE, DdnsdError
from ddnsd.handoff import peers, protocol
from ddnsd.handoff.client import connect, unix_address
from ddnsd.handoff.protocol import ProtocolError

if TYPE_CHECKING:
    from ddnsd.config.models import Settings
    from ddnsd.handoff.work import DaemonAcme

log = logging.getLogger(__name__)

READ_TIMEOUT = 10.0  # seconds a connected hook has to send its whole request line
SEND_TIMEOUT = 30.0  # seconds one line to a hook may take (it reads as it goes)
MAX_HOOKS = 32  # hooks served at once; more get a "busy" result
REFUSED_LOG_EVERY = 60.0  # seconds between two "refused a hook" warnings


class LogRelay(logging.Handler):
    """Sends the log records of a hook's worker thread to that hook as progress lines.

    It holds no handler lock: a record goes only to the socket of the thread that logged
    it, so no two threads write to one socket, and a hook slow to read (up to
    :data:`SEND_TIMEOUT` a line) holds up its own worker, not every thread's logging.
    """

    def __init__(self) -> None:
        super().__init__()
        self._conns: dict[int, socket.socket] = {}

    @contextlib.contextmanager
    def to(self, conn: socket.socket) -> Iterator[None]:
        ident = threading.get_ident()
        self._conns[ident] = conn
        try:
            yield
        finally:
            self._conns.pop(ident, None)

    def createLock(self) -> None:
        self.lock = None  # see the class docstring; Handler.acquire() skips a None lock

    def emit(self, record: logging.LogRecord) -> None:
        conn = self._conns.get(record.thread or 0)
        if conn is None:
            return
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string: logging's own report, not the caller's
            self.handleError(record)
            return
        try:
            conn.sendall(protocol.log_line(record.created, record.levelname, record.name, msg))
        except OSError:  # the hook went away; the work goes on, its log stays ours
            self._conns.pop(record.thread or 0, None)


class HookServer:
    """Listens on ``path``; each hook's request is run by ``work`` (see ``work.py``)."""

    def __init__(self, path: Path, work: DaemonAcme) -> None:
        self.path = path
        self.work = work
        self.own_uid = os.geteuid()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_HOOKS)
        self._relay = LogRelay()
        self._refused_logged = float("-inf")  # monotonic time of the last "refused" warning
        self._refused_unlogged = 0  # refused connections since, not logged

    @classmethod
    def listen(cls, settings: Settings, work: DaemonAcme) -> HookServer | None:
        """The started server at the configured place; None when ``[http] socket = ""``."""
        from ddnsd.config.environ import process_env
        from ddnsd.config.places import socket_path

        path = socket_path(
            settings.http.socket, settings.state.dir, process_env("RUNTIME_DIRECTORY")
        )
        if path is None:
            return None
        server = cls(path, work)
        server.start()
        return server

    def start(self) -> None:
        """Listen (DdnsdError when the path is taken or cannot be bound)."""
        try:
            self._clear_stale()  # OSError: a stale socket this user may not remove
            sock = self._bind()
        except OSError as exc:
            raise DdnsdError(
                f"cannot listen on {self.path} ({exc.strerror}); set [http] socket to a "
                'writable place, or to "" to turn the hook socket off'
            ) from exc
        sock.settimeout(0.5)
        self._sock = sock
        logging.getLogger().addHandler(self._relay)
        self._thread = threading.Thread(target=self._accept, name="hook-socket", daemon=True)
        self._thread.start()
        log.info("hooks: %s (ddnsd present/cleanup/hook hand their work to this daemon)", self.path)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._sock is not None:
            self._sock.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        logging.getLogger().removeHandler(self._relay)

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with unix_address(self.path) as address:
                sock.bind(address)
            os.chmod(self.path, 0o666)  # noqa: S103 - SO_PEERCRED decides who may use it
            sock.listen(16)
        except BaseException:
            sock.close()
            raise
        return sock

    def _clear_stale(self) -> None:
        """Remove the socket a dead daemon left; refuse to take over a live one."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise DdnsdError(
                f"{self.path} exists and is not a socket; remove it or set [http] socket elsewhere"
            )
        probe = connect(self.path, timeout=1.0)
        if probe is not None:
            probe.close()
            raise DdnsdError(
                f"another ddnsd daemon listens on {self.path}; stop it, or give this one "
                "another state dir or [http] socket"
            )
        os.unlink(self.path)

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._stop.is_set():
                    log.warning("hook socket: %s", exc)
                continue
            conn.settimeout(SEND_TIMEOUT)
            peer = self._check_peer(conn)
            if peer is None:
                continue
            if not self._slots.acquire(blocking=False):
                with conn, contextlib.suppress(OSError):
                    busy = f"ddnsd: the daemon is serving {MAX_HOOKS} hooks already; try again"
                    conn.sendall(protocol.result(EXIT_FAILED, [busy]))
                continue
            threading.Thread(
                target=self._serve, args=(conn, peer), name="hook", daemon=True
            ).start()

    def _check_peer(self, conn: socket.socket) -> peers.Peer | None:
        """The peer of ``conn`` when it may use the socket; else None, the connection
        answered with the refusal and closed (without waiting for it to read)."""
        group = self.work.settings.http.socket_group
        gid = peers.group_id(group) if group else None
        try:
            peer = peers.peer_of(conn, with_groups=gid is not None)  # root or own uid: no lookup
        except OSError as exc:
            log.info("a hook went away before it could be checked: %s", exc)
            conn.close()
            return None
        if group and gid is None:
            log.warning("[http] socket_group %r is not a group on this machine", group)
        if peers.allowed(peer.uid, peer.groups, self.own_uid, gid):
            return peer
        user = peers.user_name(peer.uid)
        self._log_refused(peer, user)
        line = protocol.result(EXIT_USAGE, [peers.refusal(peer, user, str(self.path), group)])
        with conn, contextlib.suppress(OSError):
            conn.setblocking(False)  # never wait for a refused peer: the buffer takes one line
            conn.send(line)
            _drain(conn, wait=False)
        return None

    def _log_refused(self, peer: peers.Peer, user: str) -> None:
        now = time.monotonic()
        if now - self._refused_logged < REFUSED_LOG_EVERY:
            self._refused_unlogged += 1
            return
        more = self._refused_unlogged
        self._refused_logged, self._refused_unlogged = now, 0
        since = f" ({more} more refused in the last {REFUSED_LOG_EVERY:g} s)" if more else ""
        log.warning("refused a hook from uid %d (%s, pid %d)%s", peer.uid, user, peer.pid, since)

    def _serve(self, conn: socket.socket, peer: peers.Peer) -> None:
        try:
            with conn:
                conn.sendall(self._answer(conn, peer))
                _drain(conn)
        except OSError as exc:
            log.info("a hook went away before its result: %s", exc)
        finally:
            self._slots.release()

    def _answer(self, conn: socket.socket, peer: peers.Peer) -> bytes:
        """Read and run the request of the (allowed) ``peer``; the result line."""
        settings = self.work.settings
        try:
            request = protocol.decode_request(_read_line(conn))
        except ProtocolError as exc:
            log.warning("unreadable hook request from pid %d: %s", peer.pid, exc)
            return protocol.result(EXIT_USAGE, [f"ddnsd: the daemon cannot use the request: {exc}"])
        conn.sendall(
            protocol.accepted(protocol.work_bound(request, settings.acme.propagation_timeout))
        )
        log.info("hook from uid %d (pid %d): %s", peer.uid, peer.pid, request.what)
        with self._relay.to(conn):
            try:
                code, lines = self.work.run(request)
            except Exception:  # a bug must not leave the hook waiting
                log.exception("the %s of pid %d crashed", request.what, peer.pid)
                code, lines = (
                    EXIT_FAILED,
                    [f"ddnsd: the daemon failed on the {request.what}; see its log"],
                )
        return protocol.result(code, lines)


def _read_line(conn: socket.socket) -> bytes:
    """The request line (up to ``\\n`` or the end); ProtocolError when too long, or not
    all there within :data:`READ_TIMEOUT` of the first read (one deadline, not per read)."""
    deadline = time.monotonic() + READ_TIMEOUT
    data = b""
    try:
        while b"\n" not in data:
            if len(data) > protocol.MAX_REQUEST:
                raise ProtocolError(f"the request is longer than {protocol.MAX_REQUEST} bytes")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            conn.settimeout(left)
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        raise ProtocolError(f"no complete request line within {READ_TIMEOUT:g} s") from None
    finally:
        conn.settimeout(SEND_TIMEOUT)
    if not data.strip():
        raise ProtocolError("the request is empty")
    return data.split(b"\n", 1)[0]


def _drain(conn: socket.socket, *, wait: bool = True) -> None:
    """Read what the hook sent beyond its request before closing: closing a Unix socket
    with unread data resets the connection, and the hook would miss the result line.
    ``wait`` False: only what has arrived already (a non-blocking ``conn``)."""
    conn.shutdown(socket.SHUT_WR)
    if wait:
        conn.settimeout(1.0)
    with contextlib.suppress(OSError):
        for _ in range(64):
            if not conn.recv(65536):
                break
