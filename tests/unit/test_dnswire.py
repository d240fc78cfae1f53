"""ddnsd.dnswire: the query on the wire and answers decoded, table-driven (no sockets)."""

from __future__ import annotations

import struct

import pytest

from ddnsd import dnswire
from ddnsd.dnswire import Record


def test_query_bytes() -> None:
    q = dnswire.make_query(0x1234, "_acme-challenge.Example.test.", "TXT")
    assert q == (
        b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"  # id, no RD, one question
        b"\x0f_acme-challenge\x07Example\x04test\x00\x00\x10\x00\x01"
    )
    assert dnswire.make_query(1, "whoami.cloudflare", "TXT", "CH", rd=True)[2:4] == b"\x01\x00"
    assert dnswire.make_query(1, "whoami.cloudflare", "TXT", "CH")[-2:] == b"\x00\x03"


@pytest.mark.parametrize("name", ["a..b", "x" * 64 + ".test"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        dnswire.encode_name(name)


def answer(
    qid: int, flags: int, records: list[bytes], qname: bytes = b"\x01a\x04test\x00"
) -> bytes:
    head = struct.pack("!HHHHHH", qid, flags, 1, len(records), 0, 0)
    return head + qname + b"\x00\x10\x00\x01" + b"".join(records)


def rr(name: bytes, rtype: int, rdata: bytes) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata


PTR = b"\xc0\x0c"  # a compression pointer to the question's name (offset 12)
CASES = {
    "TXT, two strings joined": (
        [rr(PTR, 16, b"\x03abc\x02de")],
        [Record("a.test.", 16, "abcde", 60)],
    ),
    "two TXT values": (
        [rr(PTR, 16, b"\x01x"), rr(PTR, 16, b"\x01y")],
        [Record("a.test.", 16, "x", 60), Record("a.test.", 16, "y", 60)],
    ),
    "A": ([rr(PTR, 1, bytes([192, 0, 2, 7]))], [Record("a.test.", 1, "192.0.2.7", 60)]),
    "AAAA": (
        [rr(PTR, 28, bytes.fromhex("20010db8000000000000000000000001"))],
        [Record("a.test.", 28, "2001:db8::1", 60)],
    ),
    "CNAME with a compressed target": (
        [rr(PTR, 5, b"\x03www" + PTR)],
        [Record("a.test.", 5, "www.a.test.", 60)],
    ),
    "owner name in upper case": (
        [rr(b"\x01A\x04TEST\x00", 16, b"\x01v")],
        [Record("a.test.", 16, "v", 60)],
    ),
    "no records": ([], []),
}


@pytest.mark.parametrize(("records", "expected"), CASES.values(), ids=CASES.keys())
def test_answers(records: list[bytes], expected: list[Record]) -> None:
    parsed = dnswire.parse_answer(answer(7, 0x8400, records), 7)
    assert parsed == dnswire.Answer(0, False, expected)


def test_rcode_truncation_and_foreign_replies() -> None:
    assert dnswire.parse_answer(answer(7, 0x8403, []), 7).rcode == dnswire.NXDOMAIN
    assert dnswire.parse_answer(answer(7, 0x8600, []), 7).truncated
    with pytest.raises(ValueError, match="not an answer to this query"):
        dnswire.parse_answer(answer(8, 0x8400, []), 7)
    with pytest.raises(ValueError, match="not an answer"):
        dnswire.parse_answer(answer(7, 0x0000, []), 7)  # a query, not a reply
    with pytest.raises(ValueError, match=r"malformed|ends inside"):
        dnswire.parse_answer(answer(7, 0x8400, [rr(PTR, 16, b"\x05abc")])[:-3], 7)
    with pytest.raises(ValueError, match="loop"):
        dnswire.parse_answer(answer(7, 0x8400, [rr(b"\xc0\x18", 16, b"\x01v")]), 7)  # itself


MALFORMED = {
    "A of 5 bytes": rr(PTR, 1, b"\x01\x02\x03\x04\x05"),
    "AAAA of 3 bytes": rr(PTR, 28, b"\x01\x02\x03"),
    "TXT string past its record": rr(PTR, 16, b"\x05ab"),
    "MX cut short": rr(PTR, 15, b"\x00"),
}


@pytest.mark.parametrize("record", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_record_is_a_valueerror(record: bytes) -> None:
    """What authdns turns into one line naming the nameserver (any other error escapes it)."""
    with pytest.raises(ValueError):
        dnswire.parse_answer(answer(7, 0x8400, [record]), 7)
