"""ddnsd.authdns.query against a loopback server that sends exactly the bytes each case
needs: answers decoded as users see them, and malformed or foreign replies turned into one
line naming the server (never a traceback)."""

from __future__ import annotations

import socket
import struct

import pytest
from dns_support import Reply, serving

from ddnsd.authdns import Nameserver, Values, query
from ddnsd.errors import DdnsdError

PTR = b"\xc0\x0c"  # a compression pointer to the question's name (offset 12)
A, NS, CNAME, MX, TXT, AAAA = 1, 2, 5, 15, 16, 28


def rr(name: bytes, rtype: int, rdata: bytes, ttl: int = 60) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def nameserver(port: int) -> Nameserver:
    return Nameserver(f"127.0.0.1:{port}", "127.0.0.1", port)


def answer(records: list[bytes], *, flags: int = 0x8400, other_id: bool = False) -> Reply:
    """A reply to the query with ``records`` in its answer section (raw bytes)."""

    def reply(query_wire: bytes) -> list[bytes]:
        qid = struct.unpack("!H", query_wire[:2])[0] ^ (0xFFFF if other_id else 0)
        head = struct.pack("!HHHHHH", qid, flags, 1, len(records), 0, 0)
        return [head + query_wire[12:] + b"".join(records)]

    return reply


ANSWERS = {
    "TXT, two strings joined": ("TXT", [rr(PTR, TXT, b"\x03abc\x02de")], ["abcde"], 60),
    "two TXT values, the lower TTL": (
        "TXT",
        [rr(PTR, TXT, b"\x01x", 300), rr(PTR, TXT, b"\x01y", 60)],
        ["x", "y"],
        60,
    ),
    "A": ("A", [rr(PTR, A, bytes([192, 0, 2, 7]))], ["192.0.2.7"], 60),
    "AAAA": (
        "AAAA",
        [rr(PTR, AAAA, bytes.fromhex("20010db8" + "0" * 23 + "1"))],
        ["2001:db8::1"],
        60,
    ),
    "CNAME with a compressed target": (
        "CNAME",
        [rr(PTR, CNAME, b"\x03www" + PTR)],
        ["www.a.test."],
        60,
    ),
    "owner name in upper case": ("TXT", [rr(b"\x01A\x04TEST\x00", TXT, b"\x01v")], ["v"], 60),
    "another owner (not asked for)": ("TXT", [rr(b"\x01b\x04test\x00", TXT, b"\x01v")], [], None),
    "another type": ("TXT", [rr(PTR, A, bytes([192, 0, 2, 7]))], [], None),
    "no records": ("TXT", [], [], None),
}


@pytest.mark.parametrize(
    ("rdtype", "records", "values", "ttl"), ANSWERS.values(), ids=ANSWERS.keys()
)
def test_answers_as_users_see_them(
    rdtype: str, records: list[bytes], values: list[str], ttl: int | None
) -> None:
    with serving(answer(records)) as server:
        got = query(nameserver(server.port), "a.test", rdtype)
    assert (got, got.ttl) == (Values(values), ttl)


def test_nxdomain_is_no_values_and_other_rcodes_are_one_line() -> None:
    with serving(answer([], flags=0x8403)) as server:
        assert query(nameserver(server.port), "a.test", "TXT") == []
    with serving(answer([], flags=0x8402)) as server, pytest.raises(DdnsdError) as caught:
        query(nameserver(server.port), "a.test", "TXT")
    assert (
        str(caught.value) == f"nameserver 127.0.0.1:{server.port} answered SERVFAIL for a.test TXT"
    )


def test_truncated_over_udp_is_asked_again_over_tcp() -> None:
    truncated = answer([], flags=0x8600)
    with serving(truncated, answer([rr(PTR, TXT, b"\x04full")])) as server:
        assert query(nameserver(server.port), "a.test", "TXT") == ["full"]


def test_a_foreign_reply_is_skipped() -> None:
    def spoofed_first(wire: bytes) -> list[bytes]:
        return answer([rr(PTR, TXT, b"\x05forged")], other_id=True)(wire) + answer(
            [rr(PTR, TXT, b"\x04real")]
        )(wire)

    with serving(spoofed_first) as server:
        assert query(nameserver(server.port), "a.test", "TXT") == ["real"]


MALFORMED = {
    "A of 5 bytes": [rr(PTR, A, b"\x01\x02\x03\x04\x05")],
    "AAAA of 3 bytes": [rr(PTR, AAAA, b"\x01\x02\x03")],
    "TXT string past its record": [rr(PTR, TXT, b"\x05ab")],
    "MX cut short": [rr(PTR, MX, b"\x00")],
    "a name pointing at itself": [rr(b"\xc0\x18", TXT, b"\x01v")],
    "the reply ends inside a record": [rr(PTR, TXT, b"\x05abcde")[:-3]],
}


@pytest.mark.parametrize("records", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_answer_over_tcp_is_one_line(records: list[bytes]) -> None:
    truncated = answer([], flags=0x8600)
    with serving(truncated, answer(records)) as server, pytest.raises(DdnsdError) as caught:
        query(nameserver(server.port), "a.test", "TXT")
    text = str(caught.value)
    assert text.startswith(f"nameserver 127.0.0.1:{server.port} did not answer for a.test TXT: ")
    assert "\n" not in text


@pytest.mark.parametrize("records", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_answer_over_udp_is_skipped_until_the_timeout(records: list[bytes]) -> None:
    """Garbage on UDP may be anyone's: keep waiting for the real answer, as for a foreign one."""
    with serving(answer(records)) as server, pytest.raises(DdnsdError) as caught:
        query(nameserver(server.port), "a.test", "TXT", timeout=0.3)
    assert (
        str(caught.value) == f"no answer from 127.0.0.1:{server.port} within 0.3 s for a.test TXT"
    )


def test_a_closed_port_is_refused_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = Nameserver(f"127.0.0.1:{port}", "127.0.0.1", port)
    with pytest.raises(DdnsdError) as caught:
        query(closed, "a.test", "TXT", timeout=5)
    assert str(caught.value) == (
        f"nameserver 127.0.0.1:{port} did not answer for a.test TXT: [Errno 111] Connection refused"
    )
