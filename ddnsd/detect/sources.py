"""Source strings → detectors. :func:`parse_source` checks a string at config time;
:func:`make_detector` builds the detector.

=============================== ===============================================
source                          meaning
=============================== ===============================================
``https://URL``, ``http://URL`` plain-text echo service (first line)
``dns:opendns|google|cloudflare`` whoami DNS query to that service
``dns:NAME@SERVER[:PORT]``      NAME's A/AAAA (else TXT) at SERVER
``iface:NAME``                  global address of a local interface
``cmd:PROGRAM [ARGS…]``         first line the program prints
``file:PATH``                   first line of the file, re-read every time
``static:ADDR``                 this fixed address
``push``                        the latest address a router pushed (dyndns2)
=============================== ===============================================
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ddnsd.detect.base import Detector, redact_source
from ddnsd.detect.command import CommandDetector, split_command
from ddnsd.detect.dns import DnsDetector, parse_dns_source
from ddnsd.detect.http import HttpDetector
from ddnsd.detect.interface import InterfaceDetector, check_iface_name
from ddnsd.detect.push import PushDetector, PushStore
from ddnsd.detect.static import FileDetector, StaticDetector
from ddnsd.detect.validate import parse_address

SOURCE_HELP = (
    "use https://URL, dns:opendns, dns:google, dns:cloudflare, dns:NAME@SERVER[:PORT], "
    "iface:NAME, cmd:PROGRAM, file:PATH, static:ADDRESS or push"
)
_KINDS = ("dns", "iface", "cmd", "file", "static")


def _split(source: str) -> tuple[str, str]:
    """(kind, rest): kind is "http", one of _KINDS, or "push"; ValueError if unknown."""
    text = source.strip()
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        return "http", text
    if lower == "push":
        return "push", ""
    kind, sep, rest = text.partition(":")
    if sep and kind.lower() in _KINDS:
        return kind.lower(), rest.strip()
    try:
        parse_address(text)
    except ValueError:
        pass
    else:
        raise ValueError(f"address source {text!r} is a bare address; write static:{text}")
    raise ValueError(f"unknown address source {redact_source(text)!r}; {SOURCE_HELP}")


def parse_source(source: str) -> None:
    """Raise ValueError with one sentence when ``source`` is not a usable source string.

    Checks syntax only (no network, no file access): a URL's host and port, a DNS
    preset or NAME@SERVER[:PORT], an interface name, a command line, a path, an address.
    """
    kind, rest = _split(source)
    if kind == "http":
        try:
            parts = urlsplit(rest)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"address source {redact_source(rest)!r} is not a valid URL") from None
        if not parts.hostname:
            raise ValueError(f"address source {redact_source(rest)!r} has no host name")
    elif kind == "dns":
        parse_dns_source(rest)
    elif kind == "iface":
        check_iface_name(rest)
    elif kind == "cmd":
        split_command(rest)
    elif kind == "file":
        if not rest:
            raise ValueError("the file: source needs a path, like file:/run/public-ip")
    elif kind == "static":
        try:
            parse_address(rest)
        except ValueError as exc:
            raise ValueError(f"address source 'static:{rest}': {exc}") from None


def make_detector(
    source: str,
    *,
    timeout: float = 5.0,
    allow_private: bool = False,
    push_store: PushStore | None = None,
) -> Detector:
    """The detector for ``source`` (see the table above); ValueError when it is unusable.

    ``timeout`` bounds one detection (HTTP, DNS, command); ``allow_private`` admits
    private and documentation ranges (lab use); ``push_store`` is required for ``push``.
    """
    parse_source(source)
    kind, rest = _split(source)
    if kind == "http":
        return HttpDetector(rest, timeout=timeout, allow_private=allow_private)
    if kind == "dns":
        return DnsDetector(f"dns:{rest}", timeout=timeout, allow_private=allow_private)
    if kind == "iface":
        return InterfaceDetector(rest, timeout=timeout, allow_private=allow_private)
    if kind == "cmd":
        return CommandDetector(rest, timeout=timeout, allow_private=allow_private)
    if kind == "file":
        return FileDetector(rest, allow_private=allow_private)
    if kind == "static":
        return StaticDetector(rest, allow_private=allow_private)
    if push_store is None:
        raise ValueError(
            "the push source needs the dyndns2 endpoint (a PushStore); "
            "enable it or remove 'push' from the sources"
        )
    return PushDetector(push_store, allow_private=allow_private)
