"""Interface addresses from the kernel over a raw ``AF_NETLINK``/``NETLINK_ROUTE`` socket.

Two uses, no extra dependency:

- :func:`dump_addresses` asks the kernel for every address (``RTM_GETADDR`` dump); the
  ``iface:`` detector picks from it.
- :class:`AddressWatcher` listens to ``RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR`` and calls
  a callback (debounced) when an address appears on or leaves a watched interface, so a
  round can run within a second of the change instead of at the next interval.

The message parsing (:func:`parse_messages`) is pure and tested with hand-built bytes.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

# <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_addr.h>
NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4
NLM_F_REQUEST = 0x01
NLM_F_DUMP = 0x300
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_CACHEINFO = 6
IFA_FLAGS = 8
IFA_F_SECONDARY = 0x01
IFA_F_TEMPORARY = 0x01  # same bit: "secondary" for IPv4, "temporary" for IPv6
IFA_F_NODAD = 0x02
IFA_F_OPTIMISTIC = 0x04
IFA_F_DADFAILED = 0x08
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")  # len, type
_CACHEINFO = struct.Struct("=IIII")  # preferred, valid, cstamp, tstamp
INFINITY_LIFETIME = 0xFFFFFFFF
RECV_SIZE = 1 << 18  # larger than any one datagram the kernel sends


def _align(n: int) -> int:
    return (n + 3) & ~3


@dataclass(frozen=True, slots=True)
class IfAddr:
    """One address on one interface, as the kernel reports it."""

    family: int  # socket.AF_INET / socket.AF_INET6
    index: int
    prefixlen: int
    flags: int  # IFA_F_* (from IFA_FLAGS when present: 32 bits)
    scope: int  # RT_SCOPE_*
    address: str
    label: str = ""
    preferred_lft: int = INFINITY_LIFETIME
    valid_lft: int = INFINITY_LIFETIME

    @property
    def version(self) -> int:
        return 4 if self.family == socket.AF_INET else 6

    def skip_reason(self) -> str | None:
        """Why this address is not a candidate for the ``iface:`` source, or None."""
        if self.scope == RT_SCOPE_HOST:
            return "host scope"
        if self.scope == RT_SCOPE_LINK:
            return "link scope"
        if self.scope != RT_SCOPE_UNIVERSE:
            return f"scope {self.scope}"
        if self.version == 6:
            for bit, what in (
                (IFA_F_TEMPORARY, "temporary"),
                (IFA_F_DEPRECATED, "deprecated"),
                (IFA_F_TENTATIVE, "tentative"),
                (IFA_F_DADFAILED, "duplicate (DAD failed)"),
            ):
                if self.flags & bit:
                    return what
            if self.preferred_lft == 0:
                return "deprecated"
        return None


def _attrs(data: bytes, offset: int, end: int) -> Iterator[tuple[int, bytes]]:
    while offset + _RTATTR.size <= end:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size or offset + length > end:
            break
        yield kind & 0x3FFF, data[offset + _RTATTR.size : offset + length]
        offset += _align(length)


def parse_ifaddr(payload: bytes) -> IfAddr | None:
    """An ``ifaddrmsg`` plus attributes → IfAddr (None for families other than 4/6)."""
    if len(payload) < _IFADDRMSG.size:
        return None
    family, prefixlen, flags, scope, index = _IFADDRMSG.unpack_from(payload)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    attrs = dict(_attrs(payload, _IFADDRMSG.size, len(payload)))
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if raw is None:
        return None
    try:
        address = str(ipaddress.ip_address(raw))
    except ValueError:
        return None
    if IFA_FLAGS in attrs and len(attrs[IFA_FLAGS]) >= 4:
        flags = struct.unpack_from("=I", attrs[IFA_FLAGS])[0]
    label = attrs.get(IFA_LABEL, b"").split(b"\0", 1)[0].decode("utf-8", "replace")
    preferred = valid = INFINITY_LIFETIME
    cache = attrs.get(IFA_CACHEINFO)
    if cache is not None and len(cache) >= _CACHEINFO.size:
        preferred, valid, _c, _t = _CACHEINFO.unpack_from(cache)
    return IfAddr(family, index, prefixlen, flags, scope, address, label, preferred, valid)


def parse_messages(data: bytes) -> Iterator[tuple[int, int, IfAddr | None]]:
    """Netlink messages in ``data`` → (type, seq, IfAddr for NEW/DELADDR else None).

    NLMSG_ERROR with a non-zero code raises OSError; NLMSG_OVERRUN raises ENOBUFS.
    """
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        payload = data[offset + _NLMSGHDR.size : offset + length]
        offset += _align(length)
        if kind == NLMSG_ERROR:
            code = struct.unpack_from("=i", payload)[0] if len(payload) >= 4 else 0
            if code:
                raise OSError(-code, os.strerror(-code))
            yield kind, seq, None
        elif kind == NLMSG_OVERRUN:
            raise OSError(errno.ENOBUFS, "netlink overrun")
        elif kind in (RTM_NEWADDR, RTM_DELADDR):
            yield kind, seq, parse_ifaddr(payload)
        else:
            yield kind, seq, None


def _open(groups: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((0, groups))
    except OSError:
        sock.close()
        raise
    return sock


_seq_lock = threading.Lock()
_seq = int(time.time()) & 0xFFFFFF


def _next_seq() -> int:
    global _seq
    with _seq_lock:
        _seq = (_seq + 1) & 0xFFFFFFFF
        return _seq


def dump_addresses(family: int = socket.AF_UNSPEC, timeout: float = 5.0) -> list[IfAddr]:
    """Every address the kernel has, in the kernel's order (RTM_GETADDR dump).

    ``family`` is ``socket.AF_INET``, ``socket.AF_INET6`` or ``AF_UNSPEC`` (both).
    Raises OSError when netlink is unavailable.
    """
    seq = _next_seq()
    request = _NLMSGHDR.pack(
        _NLMSGHDR.size + _IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
    ) + _IFADDRMSG.pack(family, 0, 0, 0, 0)
    result: list[IfAddr] = []
    with _open() as sock:
        sock.settimeout(timeout)
        sock.sendto(request, (0, 0))
        while True:
            data = sock.recv(RECV_SIZE)
            if not data:
                return result
            for kind, msg_seq, addr in parse_messages(data):
                if msg_seq != seq:
                    continue
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    return result
                if kind == RTM_NEWADDR and addr is not None:
                    result.append(addr)


class AddressWatcher:
    """Calls ``callback()`` soon after an address changes on a watched interface.

    ``ifaces`` None watches every interface. Only global-scope addresses count
    (link-local churn does not change a public address). Events are coalesced: the
    callback runs ``debounce`` seconds after the first event of a burst, once, on the
    watcher's daemon thread; exceptions it raises are logged. A netlink overrun (lost
    events) also triggers the callback.
    """

    def __init__(
        self,
        callback: Callable[[], None],
        ifaces: set[str] | None = None,
        *,
        debounce: float = 0.2,
    ) -> None:
        self.callback = callback
        self.ifaces = set(ifaces) if ifaces is not None else None
        self.debounce = debounce
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._wake_r, self._wake_w = -1, -1

    def start(self) -> None:
        """Subscribe and start the daemon thread. Raises OSError if netlink is unavailable."""
        if self._thread is not None:
            return
        self._sock = _open(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)
        self._wake_r, self._wake_w = os.pipe()
        self._learn_names()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ddnsd-netlink", daemon=True)
        self._thread.start()
        what = ", ".join(sorted(self.ifaces)) if self.ifaces is not None else "all interfaces"
        log.info("watching address changes on %s", what)

    def stop(self) -> None:
        """Stop the thread; it closes its socket on the way out (idempotent).

        Waits for a running callback to return (up to 5 s); callable from the callback.
        """
        thread = self._thread
        if thread is None:
            return
        self._thread = None
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        os.close(self._wake_w)
        self._wake_w = -1
        if thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def __enter__(self) -> AddressWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _learn_names(self) -> None:
        try:
            for index, name in socket.if_nameindex():
                self._names[index] = name
        except OSError:
            pass

    def _name(self, index: int) -> str:
        try:
            name = socket.if_indextoname(index)
        except OSError:
            return self._names.get(index, f"#{index}")
        self._names[index] = name
        return name

    def relevant(self, kind: int, addr: IfAddr | None) -> str | None:
        """The log line for an event on a watched interface, or None to ignore it."""
        if addr is None or addr.scope != RT_SCOPE_UNIVERSE:
            return None
        name = self._name(addr.index)
        if self.ifaces is not None and name not in self.ifaces:
            return None
        what = "new" if kind == RTM_NEWADDR else "removed"
        return f"address change on {name} ({what} {addr.address})"

    def _run(self) -> None:
        sock, wake_r = self._sock, self._wake_r
        assert sock is not None
        try:
            self._loop(sock, wake_r)
        finally:
            sock.close()
            os.close(wake_r)

    def _loop(self, sock: socket.socket, wake_r: int) -> None:
        due: float | None = None
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        while not self._stop.is_set():
            wait_ms = None if due is None else max(0, int((due - time.monotonic()) * 1000) + 1)
            ready = poller.poll(wait_ms)
            if self._stop.is_set():
                return
            if any(fd == sock.fileno() for fd, _ in ready):
                due = self._read(sock, due)
            if due is not None and time.monotonic() >= due:
                due = None
                try:
                    self.callback()
                except Exception:
                    log.exception("address-change callback failed")

    def _read(self, sock: socket.socket, due: float | None) -> float | None:
        try:
            data = sock.recv(RECV_SIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return due
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                log.info("netlink events were lost (buffer overrun); checking addresses")
                return due if due is not None else time.monotonic() + self.debounce
            log.warning("netlink read failed: %s", exc)
            time.sleep(0.1)
            return due
        try:
            events = list(parse_messages(data))
        except OSError as exc:
            log.info("netlink reported %s; checking addresses", exc)
            events = []
            due = due if due is not None else time.monotonic() + self.debounce
        for kind, _seq, addr in events:
            line = self.relevant(kind, addr)
            if line is None:
                continue
            log.info("%s", line)
            if due is None:
                due = time.monotonic() + self.debounce
        return due
