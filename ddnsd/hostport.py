"""``HOST:PORT`` text, read in one place: listen addresses and DNS servers.

:func:`parse_listen` reads where ddnsd (or the emulator) listens and :func:`local_url`
says how this machine reaches it; :func:`split_server` reads a DNS server of the config or
of a ``dns:`` source.

PURE and standard-library only (the configuration, the HTTP server, the DNS queries and
the emulator use it).

A listen address is ``127.0.0.1:9333``, ``0.0.0.0:9333`` (every IPv4 address),
``[::1]:9333`` or ``[::]:9333`` (every IPv6 and IPv4 address); port 0 picks a free port.
The address must be an IP address, IPv6 in brackets and only IPv6: a name may resolve to
no address of this machine, or to another one tomorrow. A DNS server is ``HOST``,
``HOST:PORT`` or ``[IPv6]:PORT`` (port 53 by default).
"""

from __future__ import annotations

import ipaddress


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9333"`` → ("127.0.0.1", 9333), ``"[::]:0"`` → ("::", 0); else ValueError.

    The ValueError's text is one sentence that starts with ``listen`` quoted.
    """
    bracketed = listen.startswith("[")
    if bracketed:
        host, sep, port = listen[1:].partition("]:")
    else:
        host, sep, port = listen.rpartition(":")
    if not sep or (":" in host and not bracketed):
        raise ValueError(f"{listen!r} is not ADDRESS:PORT (127.0.0.1:9333, [::1]:9333)")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ValueError(f"{listen!r}: the port must be a number from 0 to 65535")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{listen!r}: {host!r} is not an IP address; listen on an address of this "
            "machine (127.0.0.1:9333, [::1]:9333, or 0.0.0.0:9333 for all of them)"
        ) from None
    if bracketed != (ip.version == 6):
        raise ValueError(f"{listen!r}: write IPv6 addresses in brackets ([::1]:9333) and only them")
    return str(ip), int(port)


def local_url(host: str, port: int, path: str = "") -> str:
    """The URL of ``path`` on a listener at ``host``:``port`` from this machine (an
    address meaning "all of them" becomes loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}{path}" if ":" in host else f"http://{host}:{port}{path}"


def split_server(spec: str) -> tuple[str, int]:
    """``"127.0.0.1:53"`` / ``"[::1]:53"`` / ``"::1"`` / ``"ns.example"`` → (host, port).

    Raises ValueError with one sentence when the text is not a server.
    """
    text = spec.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"DNS server {spec!r} is not HOST, HOST:PORT or [IPv6]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not host or any(ch.isspace() or ch in "/@" for ch in host):
        raise ValueError(f"DNS server {spec!r} is not HOST, HOST:PORT or [IPv6]:PORT")
    port = 53
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"DNS server {spec!r} has an invalid port {port_text!r}")
        port = int(port_text)
    return host, port
