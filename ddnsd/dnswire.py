"""One DNS question to one server, standard library only (RFC 1035 wire format).

What :func:`ddnsd.authdns.query` asks — A, AAAA, TXT, CNAME or NS at one name, over UDP
and again over TCP when the answer is truncated — does not need dnspython, whose import
alone costs a hook process more than its work; other types (CAA, SRV, …) borrow its
parsers. Encoding and decoding are pure (:func:`make_query`, :func:`parse_answer`);
:func:`exchange` does the I/O.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import NamedTuple

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "TXT": 16, "AAAA": 28}
CLASSES = {"IN": 1, "CH": 3}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
NXDOMAIN = 3
_TC = 0x0200
_QR = 0x8000


class Record(NamedTuple):
    name: str  # lower case, with the trailing dot
    type: int
    value: str  # TXT: the strings joined; A/AAAA: the address; names: absolute
    ttl: int = 0  # seconds, as the server sent it


class Answer(NamedTuple):
    rcode: int
    truncated: bool
    records: list[Record]


def encode_name(name: str) -> bytes:
    """``example.test`` → wire labels; ValueError for an empty or over-long label."""
    out = b""
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"{name!r} has an empty or over-long label")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def type_code(rdtype: str) -> int:
    """The number of a record type ("TXT" → 16); ValueError for an unknown one."""
    if rdtype in TYPES:
        return TYPES[rdtype]
    import dns.rdatatype

    try:
        return int(dns.rdatatype.from_text(rdtype))
    except Exception as exc:  # dnspython's UnknownRdatatype is no ValueError
        raise ValueError(f"unknown record type {rdtype!r}") from exc


def make_query(qid: int, name: str, rdtype: str, rdclass: str = "IN", *, rd: bool = False) -> bytes:
    if rdclass not in CLASSES:
        raise ValueError(f"unknown record class {rdclass!r}")
    header = struct.pack("!HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0)
    qtype = struct.pack("!HH", type_code(rdtype), CLASSES[rdclass])
    return header + encode_name(name) + qtype


def _name(data: bytes, offset: int) -> tuple[str, int]:
    """The (possibly compressed) name at ``offset`` and the offset after it."""
    labels: list[str] = []
    end = -1
    for _ in range(128):  # a pointer loop ends here
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if end < 0:
                end = offset + 2
            offset = struct.unpack_from("!H", data, offset)[0] & 0x3FFF
            continue
        if length == 0:
            return ".".join(labels).lower() + ".", end if end >= 0 else offset + 1
        labels.append(data[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    raise ValueError("a name in the answer points in a loop")


def _value(data: bytes, rtype: int, start: int, length: int) -> str:
    rdata = data[start : start + length]
    if rtype == TYPES["A"] and length == 4:
        return socket.inet_ntop(socket.AF_INET, rdata)
    if rtype == TYPES["AAAA"] and length == 16:
        return socket.inet_ntop(socket.AF_INET6, rdata)
    if rtype == TYPES["TXT"]:
        parts, i = [], 0
        while i < length:
            if i + 1 + rdata[i] > length:
                raise ValueError("a TXT string runs past its record")
            parts.append(rdata[i + 1 : i + 1 + rdata[i]])
            i += 1 + rdata[i]
        return b"".join(parts).decode("utf-8", "replace")
    if rtype in (TYPES["CNAME"], TYPES["NS"]):
        return _name(data, start)[0]
    import dns.exception  # any other type (or a malformed A/AAAA): dnspython's parser,
    import dns.rdata  # on the whole message (compression)
    import dns.rdataclass
    import dns.rdatatype

    kind = dns.rdatatype.RdataType.make(rtype)
    try:
        return str(dns.rdata.from_wire(dns.rdataclass.IN, kind, data, start, length).to_text())
    except dns.exception.DNSException as exc:  # FormError is none of parse_answer's errors
        raise ValueError(f"a malformed {kind.name} record ({exc})") from None


def parse_answer(data: bytes, qid: int) -> Answer:
    """The answer section of ``data``, the reply to query ``qid``; ValueError if it is not."""
    try:
        ident, flags, qdcount, ancount = struct.unpack_from("!HHHH", data)
        if ident != qid or not flags & _QR:
            raise ValueError("the reply is not an answer to this query")
        offset = 12
        for _ in range(qdcount):
            offset = _name(data, offset)[1] + 4
        records = []
        for _ in range(ancount):
            name, offset = _name(data, offset)
            rtype, _cls, ttl, length = struct.unpack_from("!HHIH", data, offset)
            offset += 10
            if offset + length > len(data):
                raise ValueError("the reply ends inside a record")
            records.append(Record(name, rtype, _value(data, rtype, offset, length), ttl))
            offset += length
    except (struct.error, IndexError) as exc:
        raise ValueError(f"the reply is malformed ({exc})") from None
    return Answer(flags & 0x000F, bool(flags & _TC), records)


def exchange(
    address: str, port: int, name: str, rdtype: str, rdclass: str, *, rd: bool, timeout: float
) -> Answer:
    """Ask over UDP, and over TCP when the answer was truncated. TimeoutError, OSError or
    ValueError (a malformed or foreign reply) when there is no usable answer."""
    qid = int.from_bytes(os.urandom(2), "big")
    packet = make_query(qid, name, rdtype, rdclass, rd=rd)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as udp:
        udp.connect((address, port))
        udp.send(packet)
        while True:  # replies to other queries (or spoofed ones) are skipped
            udp.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                answer = parse_answer(udp.recv(65535), qid)
                break
            except ValueError:
                if time.monotonic() >= deadline:
                    raise TimeoutError from None
    if not answer.truncated:
        return answer
    with socket.create_connection((address, port), timeout=timeout) as tcp:
        tcp.sendall(struct.pack("!H", len(packet)) + packet)
        reader = tcp.makefile("rb")
        head = reader.read(2)
        if len(head) != 2:
            raise ValueError("the TCP reply ended early")
        return parse_answer(reader.read(struct.unpack("!H", head)[0]), qid)
