"""The hook socket's wire format and its peer policy: pure, table-driven."""

from __future__ import annotations

import pytest

from ddnsd.handoff import peers, protocol
from ddnsd.handoff.protocol import HookRequest, ProtocolError

ROUND_TRIP = {
    "lego default": HookRequest("present", ("_acme-challenge.example.test.", "v")),
    "lego RAW": HookRequest("cleanup", ("--", "example.test", "tok", "tok.thumb")),
    "certbot": HookRequest(
        "hook",
        ("certbot-auth",),
        {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": "v"},
    ),
    "dehydrated chain": HookRequest("hook", ("dehydrated", "deploy_challenge", "a", "f", "v") * 1),
    "non-ASCII and quotes survive": HookRequest("present", ('_acme-challenge."ü".test', "\\n")),
}


@pytest.mark.parametrize("request_", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_request_round_trip(request_: HookRequest) -> None:
    line = protocol.encode_request(request_)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert protocol.decode_request(line.rstrip(b"\n")) == request_


REFUSED = {
    "not JSON": (b"present x y", "the request is not a line of JSON"),
    "not UTF-8": (b"\xff", "the request is not a line of JSON"),
    "a list": (b"[]", "the request is not a JSON object"),
    "no version": (b'{"command": "present"}', "protocol version None, this daemon speaks 1"),
    "newer version": (b'{"v": 2, "command": "present"}', "protocol version 2, this daemon"),
    "unknown command": (b'{"v": 1, "command": "status"}', "unknown command 'status'"),
    "args a string": (b'{"v": 1, "command": "present", "args": "a b"}', '"args" must be a list'),
    "env not certbot's": (b'{"v": 1, "command": "hook", "env": {"HOME": "/"}}', '"env" must map'),
    "env value a number": (
        b'{"v": 1, "command": "hook", "env": {"CERTBOT_DOMAIN": 1}}',
        '"env" must map',
    ),
}


@pytest.mark.parametrize(("line", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_request_refused_with_a_reason(line: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=None) as info:
        protocol.decode_request(line)
    assert reason in str(info.value)


def test_answer_lines_decode_and_unknown_kinds_are_ignored() -> None:
    assert protocol.decode_message(protocol.accepted(90.0)) == (
        "accepted",
        {"v": 1, "timeout": 90.0},
    )
    assert protocol.decode_message(protocol.result(1, ["ddnsd: x"])) == (
        "result",
        {"exit": 1, "lines": ["ddnsd: x"]},
    )
    kind, body = protocol.decode_message(protocol.log_line(1.5, "INFO", "ddnsd.x", "50% done"))
    assert (kind, body["msg"]) == ("log", "50% done")
    assert protocol.decode_message(b'{"progress": {"pct": 5}}') == ("", {})
    with pytest.raises(ProtocolError):
        protocol.decode_message(b"oops")


BOUNDS = {
    # (request, propagation timeout) -> seconds: (values + 1) x (timeout + API margin)
    "one lego value": (HookRequest("present", ("f", "v")), 600.0, 2 * 660.0),
    "no propagation check": (HookRequest("present", ("f", "v")), 0.0, 2 * 60.0),
    "certbot, two names": (
        HookRequest("hook", ("certbot-auth",), {"CERTBOT_ALL_DOMAINS": "a.test,*.a.test"}),
        100.0,
        3 * 160.0,
    ),
    "certbot without the list": (HookRequest("hook", ("certbot-auth",)), 100.0, 2 * 160.0),
    "dehydrated, three values": (
        HookRequest("hook", ("dehydrated", "deploy_challenge", *("d", "f", "v") * 3)),
        10.0,
        4 * 70.0,
    ),
    "dehydrated, nothing to do": (
        HookRequest("hook", ("dehydrated", "startup_hook")),
        10.0,
        2 * 70.0,
    ),
}


@pytest.mark.parametrize(("request_", "timeout", "bound"), BOUNDS.values(), ids=BOUNDS.keys())
def test_work_bound(request_: HookRequest, timeout: float, bound: float) -> None:
    assert protocol.work_bound(request_, timeout) == pytest.approx(bound)


OWN, GROUP = 999, 4242
POLICY = {
    "root": (0, (0,), None, True),
    "the daemon's own user": (OWN, (OWN,), None, True),
    "another user": (1000, (1000, 27), None, False),
    "another user, no group configured": (1000, (1000, GROUP), None, False),
    "a member of socket_group": (1000, (1000, GROUP), GROUP, True),
    "socket_group as primary group": (1000, (GROUP,), GROUP, True),
    "not a member of socket_group": (1000, (1000, 27), GROUP, False),
    "nobody": (65534, (65534,), GROUP, False),
}


@pytest.mark.parametrize(("uid", "groups", "group", "ok"), POLICY.values(), ids=POLICY.keys())
def test_peer_policy(uid: int, groups: tuple[int, ...], group: int | None, ok: bool) -> None:
    assert peers.allowed(uid, groups, OWN, group) is ok


def test_refusal_says_how_to_allow_the_user() -> None:
    peer = peers.Peer(pid=7, uid=1000, gid=1000, groups=(1000,))
    assert peers.refusal(peer, "alice", "/run/ddnsd/ddnsd.sock", "acme") == (
        "ddnsd: the daemon at /run/ddnsd/ddnsd.sock refuses uid 1000 (alice): it serves "
        "root, its own user and members of group 'acme' ([http] socket_group); add the user "
        "to that group or run the hook as root"
    )
    assert peers.refusal(peer, "", "/s", "") == (
        "ddnsd: the daemon at /s refuses uid 1000: it serves root and its own user; to allow "
        "this user, set [http] socket_group in the daemon's config to a group the user is in "
        "and reload the daemon, or run the hook as root"
    )


@pytest.mark.parametrize(
    ("group", "gid"), [("0", 0), ("65534", 65534), ("root", 0), ("no-such-group-here", None)]
)
def test_group_id(group: str, gid: int | None) -> None:
    assert peers.group_id(group) == gid
