"""Authoritative DNS (UDP + TCP) for the emulated zones.

Every zone gets a synthetic SOA (``ns0.<zone>. hostmaster.<zone>.``), apex NS ``ns0``/``ns1``
with address glue pointing at this listener, and every TransIP entry of the version the
:class:`~ddnsd.emulator.zones.ZoneStore` says is visible (``propagation_delay``). Answers are
authoritative (AA), names case-insensitive, NXDOMAIN / NODATA carry the SOA in the authority
section, names outside every zone get REFUSED. A CNAME is answered (and followed inside the
emulated zones) for any other type; ``*`` entries act as wildcards. As at TransIP, a
CNAME/MX/NS/SRV target without a trailing dot is a name relative to the zone
(``lb.example.org`` in example.test is ``lb.example.org.example.test.``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from ddnsd.emulator.zones import Version, ZoneStore
from ddnsd.model import DnsEntry

log = logging.getLogger(__name__)

IN = dns.rdataclass.IN
SOA_TTL = 3600
NS_TTL = 86400
NEGATIVE_TTL = 300

Records = dict[dns.name.Name, dict[int, dns.rrset.RRset]]


def entry_rdata(entry: DnsEntry, origin: dns.name.Name) -> dns.rdata.Rdata:
    """TransIP content → rdata. TXT content is the raw text (split into 255-byte strings)."""
    rtype = dns.rdatatype.from_text(entry.type)
    if rtype == dns.rdatatype.TXT:
        raw = entry.content.encode("utf-8")
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(IN, rtype, chunks)
    return dns.rdata.from_text(IN, rtype, entry.content, origin=origin, relativize=False)


def build_records(zone: str, version: Version, ns_address: str) -> Records:
    """All RRsets of one zone version, keyed by absolute owner name and type."""
    origin = dns.name.from_text(zone)
    records: Records = {}

    def add(owner: dns.name.Name, ttl: int, rd: dns.rdata.Rdata) -> None:
        by_type = records.setdefault(owner, {})
        rrset = by_type.get(rd.rdtype)
        if rrset is None:
            rrset = by_type[rd.rdtype] = dns.rrset.RRset(owner, IN, rd.rdtype)
            rrset.ttl = ttl
        rrset.add(rd)

    add(
        origin,
        SOA_TTL,
        dns.rdata.from_text(
            IN,
            dns.rdatatype.SOA,
            f"ns0.{zone}. hostmaster.{zone}. {version.serial} 3600 600 604800 {NEGATIVE_TTL}",
        ),
    )
    glue_type = "AAAA" if ipaddress.ip_address(ns_address).version == 6 else "A"
    for ns in ("ns0", "ns1"):
        add(origin, NS_TTL, dns.rdata.from_text(IN, dns.rdatatype.NS, f"{ns}.{zone}."))
    for entry in version.entries:
        try:
            owner = origin if entry.name == "@" else dns.name.from_text(entry.name, origin)
            add(owner, entry.expire, entry_rdata(entry, origin))
        except (dns.exception.DNSException, ValueError) as exc:
            log.warning(
                "emulator DNS skips %s %s in %s: %s", entry.describe(), entry.content, zone, exc
            )
    for ns in ("ns0", "ns1"):
        owner = dns.name.from_text(f"{ns}.{zone}.")
        if owner not in records:
            add(
                owner,
                NS_TTL,
                dns.rdata.from_text(IN, dns.rdatatype.from_text(glue_type), ns_address),
            )
    return records


class Resolver:
    """Answers one query message from the zones' visible versions."""

    def __init__(self, store: ZoneStore, delay: Callable[[], float], ns_address: str) -> None:
        self.store = store
        self.delay = delay
        self.ns_address = ns_address
        # zone -> (version, its records). The version itself is kept, not its id(): once a
        # reset or seed frees a version, a new one may get the same id().
        self._cache: dict[str, tuple[Version, Records]] = {}
        self._lock = threading.Lock()
        # zone apex → zone: a query walks up its own labels (a few dict lookups), so the
        # answer time does not grow with the number of zones (1,000-domain benchmarks)
        self._zones = {dns.name.from_text(z): z for z in store.domains}

    def _records(self, zone: str) -> Records:
        version = self.store.visible(zone, self.delay())
        with self._lock:
            cached = self._cache.get(zone)
            if cached is not None and cached[0] is version:
                return cached[1]
            rec = build_records(zone, version, self.ns_address)
            self._cache[zone] = (version, rec)
            return rec

    def _zone_of(self, qname: dns.name.Name) -> str | None:
        """The closest enclosing emulated zone of ``qname`` (None: not ours)."""
        name = qname
        while True:
            zone = self._zones.get(name)
            if zone is not None or name == dns.name.root or not name.labels:
                return zone
            name = name.parent()

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.AA
        resp.flags &= ~dns.flags.RA
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            resp.flags &= ~dns.flags.AA
            resp.set_rcode(
                dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR
            )
            return resp
        q = query.question[0]
        qname = dns.name.from_text(q.name.to_text().lower())
        zone = self._zone_of(qname)
        if zone is None or q.rdclass not in (IN, dns.rdataclass.ANY):
            resp.flags &= ~dns.flags.AA
            resp.set_rcode(dns.rcode.REFUSED)
            return resp
        records = self._records(zone)
        origin = dns.name.from_text(zone)
        soa = records[origin][dns.rdatatype.SOA]
        name = qname
        for _ in range(8):  # follow CNAMEs inside the emulated zones
            found = self._lookup(records, name, origin)
            if found is None:
                if name == qname:
                    resp.set_rcode(dns.rcode.NXDOMAIN)
                resp.authority.append(_negative(soa))
                return resp
            cname = found.get(dns.rdatatype.CNAME)
            if q.rdtype == dns.rdatatype.ANY:
                resp.answer.extend(_owned(found.values(), name))
                return resp
            if q.rdtype in found:
                resp.answer.append(_owned([found[q.rdtype]], name)[0])
                if q.rdtype == dns.rdatatype.NS:
                    self._glue(resp, records, found[q.rdtype])
                return resp
            if cname is None or q.rdtype == dns.rdatatype.CNAME:
                resp.authority.append(_negative(soa))
                return resp
            resp.answer.append(_owned([cname], name)[0])
            target = next(iter(cname)).target
            assert isinstance(target, dns.name.Name)
            target = dns.name.from_text(target.to_text().lower())
            tzone = self._zone_of(target)
            if tzone is None:
                return resp
            if tzone != zone:
                zone, origin = tzone, dns.name.from_text(tzone)
                records = self._records(zone)
                soa = records[origin][dns.rdatatype.SOA]
            name = target
        return resp

    @staticmethod
    def _lookup(
        records: Records, name: dns.name.Name, origin: dns.name.Name
    ) -> dict[int, dns.rrset.RRset] | None:
        """RRsets at ``name`` ({} for an empty non-terminal), wildcard-expanded; None = NXDOMAIN."""
        if name in records:
            return records[name]
        if any(owner.is_subdomain(name) for owner in records):
            return {}
        encloser = name.parent()
        while encloser.is_subdomain(origin):
            wild = dns.name.Name((b"*", *encloser.labels))
            if wild in records:
                return records[wild]
            if encloser in records or any(o.is_subdomain(encloser) for o in records):
                return None
            if encloser == origin:
                break
            encloser = encloser.parent()
        return None

    @staticmethod
    def _glue(resp: dns.message.Message, records: Records, ns_rrset: dns.rrset.RRset) -> None:
        for rd in ns_rrset:
            host = rd.target
            for rtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                rr = records.get(host, {}).get(rtype)
                if rr is not None:
                    resp.additional.append(rr)


def _owned(rrsets: object, owner: dns.name.Name) -> list[dns.rrset.RRset]:
    out: list[dns.rrset.RRset] = []
    for rrset in rrsets:  # type: ignore[attr-defined]
        assert isinstance(rrset, dns.rrset.RRset)
        if rrset.name == owner:
            out.append(rrset)
        else:  # wildcard expansion
            copy = dns.rrset.RRset(owner, rrset.rdclass, rrset.rdtype)
            copy.ttl = rrset.ttl
            for rd in rrset:
                copy.add(rd)
            out.append(copy)
    return out


def _negative(soa: dns.rrset.RRset) -> dns.rrset.RRset:
    neg = dns.rrset.RRset(soa.name, soa.rdclass, soa.rdtype)
    for rd in soa:
        neg.add(rd)
    neg.ttl = min(soa.ttl, NEGATIVE_TTL)
    return neg


def _wire(resp: dns.message.Message, max_size: int) -> bytes:
    try:
        return resp.to_wire(max_size=max_size)
    except dns.exception.TooBig:
        resp.answer.clear()
        resp.authority.clear()
        resp.additional.clear()
        resp.flags |= dns.flags.TC
        return resp.to_wire(max_size=max_size)


class DnsServer:
    """UDP + TCP listeners on one port (0 = a free port shared by both)."""

    def __init__(self, resolver: Resolver, host: str, port: int) -> None:
        self.resolver = resolver
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        last: OSError | None = None
        for _ in range(20):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                udp.bind((host, port))
                bound = udp.getsockname()[1]
                tcp = _tcp_server(family, host, bound, self)
            except OSError as exc:
                udp.close()
                last = exc
                if port:
                    raise
                continue
            self.udp, self.tcp, self.port = udp, tcp, int(bound)
            break
        else:
            raise last or OSError("could not bind the DNS listener")
        self.host = host
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def handle(self, data: bytes, max_size: int, tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            if len(data) < 12:
                return None
            (qid,) = struct.unpack("!H", data[:2])
            return struct.pack("!HHHHHH", qid, 0x8001, 0, 0, 0, 0)  # FORMERR
        resp = self.resolver.answer(query)
        if not tcp and query.edns >= 0:
            max_size = max(512, min(query.payload, 4096))
        return _wire(resp, 65535 if tcp else max_size)

    def _serve_udp(self) -> None:
        while not self._stopping:
            try:
                data, addr = self.udp.recvfrom(4096)
            except OSError:
                return
            try:
                out = self.handle(data, 512, tcp=False)
                if out is not None:
                    self.udp.sendto(out, addr)
            except Exception:
                log.exception("emulator DNS failed to answer a UDP query")

    def start(self) -> None:
        for target in (self._serve_udp, lambda: self.tcp.serve_forever(poll_interval=0.1)):
            t = threading.Thread(target=target, name="emulator-dns", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stopping = True
        self.tcp.shutdown()
        self.tcp.server_close()
        with contextlib.suppress(OSError):
            self.udp.close()
        # closing does not wake recvfrom on every platform: poke it
        with contextlib.suppress(OSError):
            family = self.udp.family
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.sendto(b"", (self.host, self.port))
            s.close()


def _tcp_server(
    family: int, host: str, port: int, owner: DnsServer
) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            sock.settimeout(10)
            while True:
                head = _recv_exact(sock, 2)
                if head is None:
                    return
                (length,) = struct.unpack("!H", head)
                data = _recv_exact(sock, length)
                if data is None:
                    return
                out = owner.handle(data, 65535, tcp=True)
                if out is None:
                    return
                sock.sendall(struct.pack("!H", len(out)) + out)

    class Server(socketserver.ThreadingTCPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True

    return Server((host, port), Handler)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    return buf
