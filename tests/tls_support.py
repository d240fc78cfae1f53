"""A TLS front for the emulator that can break one answer (not a test module).

``self_signed`` writes a throw-away certificate and key for 127.0.0.1 / localhost into a
test's directory (generated at test time, never committed). ``GarblingProxy`` serves
HTTPS with it on 127.0.0.1 and passes every request on to a plain-HTTP API (the
emulator), one request per connection. A request named with :meth:`GarblingProxy.garble`
is passed on as well (the emulator applies it), but its answer is replaced by bytes that
are no TLS record: the client's TLS layer fails while reading the answer, after the
request was sent.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import os
import socket
import socketserver
import ssl
import threading
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: What the client reads instead of an answer: plain text where a TLS record belongs.
GARBAGE = b"HTTP/1.1 200 OK\r\nthis is not TLS\r\n\r\n"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def self_signed(directory: Path, *hosts: str) -> tuple[Path, Path]:
    """(certificate, key) PEM files in ``directory``: a self-signed CA certificate for
    ``hosts`` (IP addresses or DNS names; default 127.0.0.1), generated at test time."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ddnsd test")])
    alt: list[x509.GeneralName] = []
    for host in hosts or ("127.0.0.1",):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class GarblingProxy:
    """HTTPS on 127.0.0.1 in front of the plain-HTTP API at ``upstream`` (its ``/v6``
    URL); ``api_url`` is the same API through the proxy. ``seen`` lists
    ``(method, path, status)`` per request passed on, status 0 where the answer was
    garbled. Call :meth:`close` when done."""

    def __init__(self, upstream: str, cert: Path, key: Path) -> None:
        split = urlsplit(upstream)
        self._upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert, key)
        self._lock = threading.Lock()
        self._garble: list[tuple[str, str]] = []
        self.seen: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.api_url = f"https://127.0.0.1:{self._server.server_address[1]}{split.path}"

    def garble(self, method: str, path: str) -> None:
        """The next ``method`` request for ``path`` (e.g. ``/v6/domains/x/dns``) is passed
        on, and its answer replaced by :data:`GARBAGE`."""
        with self._lock:
            self._garble.append((method, path))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            conn = self._tls.wrap_socket(raw, server_side=True)
        except OSError:  # ssl.SSLError too: the client refused the certificate
            return
        with conn, conn.makefile("rb") as reader:
            line = reader.readline().decode("latin-1").split()
            if len(line) != 3:
                return
            method, target = line[0], line[1]
            headers: list[tuple[str, str]] = []
            while (header := reader.readline().decode("latin-1").strip()) != "":
                name, _, value = header.partition(":")
                headers.append((name.strip(), value.strip()))
            length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
            body = reader.read(length) if length else None
            status, reason, answer_headers, data = self._pass_on(method, target, headers, body)
            with self._lock:
                garbled = (method, urlsplit(target).path) in self._garble
                if garbled:
                    self._garble.remove((method, urlsplit(target).path))
                self.seen.append((method, urlsplit(target).path, 0 if garbled else status))
            if garbled:
                os.write(conn.fileno(), GARBAGE)  # beneath TLS: no record the client can read
                return
            head = [f"HTTP/1.1 {status} {reason}"]
            head += [f"{k}: {v}" for k, v in answer_headers if k.lower() not in _HOP_BY_HOP]
            head += [f"Content-Length: {len(data)}", "Connection: close", "", ""]
            conn.sendall("\r\n".join(head).encode("latin-1") + data)

    def _pass_on(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(*self._upstream, timeout=10)
        try:
            sent = {k: v for k, v in headers if k.lower() not in _HOP_BY_HOP}
            upstream.request(method, target, body=body, headers=sent)
            answer = upstream.getresponse()
            return answer.status, answer.reason, answer.getheaders(), answer.read()
        finally:
            upstream.close()
