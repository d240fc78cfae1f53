"""Who may hand work to the daemon: root, the daemon's own user, members of one group.

The kernel says who is on the other end of the socket (``SO_PEERCRED``: pid, uid, gid;
``SO_PEERGROUPS``: every group the peer was in when it connected), so the socket itself
may be reachable by everyone and the refusal can tell a refused user what to change.
The decision (:func:`allowed`) and the refusal (:func:`refusal`) are pure.
"""

from __future__ import annotations

import grp
import pwd
import socket
import struct
from dataclasses import dataclass

SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux ≥ 4.13; Python does not name it


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int
    groups: tuple[int, ...]  # the primary gid and every supplementary one


def allowed(peer_uid: int, peer_groups: tuple[int, ...], own_uid: int, group: int | None) -> bool:
    """Root, the daemon's own user, and members of ``group`` (when one is configured)."""
    return peer_uid in (0, own_uid) or (group is not None and group in peer_groups)


def refusal(peer: Peer, user: str, path: str, group: str) -> str:
    """The line a refused peer sees: who it is, who may, and what to change."""
    who = f"uid {peer.uid} ({user})" if user else f"uid {peer.uid}"
    if group:
        return (
            f"ddnsd: the daemon at {path} refuses {who}: it serves root, its own user and "
            f"members of group {group!r} ([http] socket_group); add the user to that group "
            "or run the hook as root"
        )
    return (
        f"ddnsd: the daemon at {path} refuses {who}: it serves root and its own user; "
        "to allow this user, set [http] socket_group in the daemon's config to a group the "
        "user is in and reload the daemon, or run the hook as root"
    )


def peer_of(conn: socket.socket, *, with_groups: bool = True) -> Peer:
    """The credentials of the process at the other end of the Unix socket ``conn``.

    ``with_groups=False`` leaves out the supplementary groups (only the primary gid): the
    group database need not be read when the uid alone decides."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    groups: tuple[int, ...] = ()
    if with_groups:
        try:
            raw = conn.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 1024)  # Python: <= 1024
            groups = struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4])
        except OSError:  # an old kernel (or a sandbox): the group database has to do
            name = user_name(uid)
            groups = tuple(g.gr_gid for g in grp.getgrall() if name and name in g.gr_mem)
    return Peer(pid, uid, gid, (gid, *groups))


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def group_id(group: str) -> int | None:
    """The gid of ``group`` (a name or a number); None when it does not exist."""
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return None
