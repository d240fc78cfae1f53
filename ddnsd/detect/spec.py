"""Address source strings → :class:`SourceSpec`, parsed once, at config time.

Pure and standard-library only (no sockets, no dnspython, no subprocess), so the
configuration can check every source without importing the detectors.
:func:`ddnsd.detect.sources.make_detector` turns a spec into its detector.

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

import shlex
from dataclasses import dataclass, field
from typing import Literal, cast
from urllib.parse import urlsplit

from ddnsd import names
from ddnsd.detect.base import redact_source
from ddnsd.detect.validate import parse_address
from ddnsd.hostport import split_server

SourceKind = Literal["http", "dns", "iface", "cmd", "file", "static", "push"]

SOURCE_HELP = (
    "use https://URL, dns:opendns, dns:google, dns:cloudflare, dns:NAME@SERVER[:PORT], "
    "iface:NAME, cmd:PROGRAM, file:PATH, static:ADDRESS or push"
)
#: The ``dns:`` presets (their servers and queries: ``ddnsd.detect.dns.PRESETS``).
DNS_PRESETS = ("opendns", "google", "cloudflare")
_PREFIXED = ("dns", "iface", "cmd", "file", "static")


@dataclass(frozen=True)
class SourceSpec:
    """One address source: its kind and the text after ``kind:`` (the URL for ``http``).

    ``str(spec)`` is the source as written in the configuration (``text``); a spec
    made by hand shows its canonical form. Two specs are equal when kind and arg are.
    """

    kind: SourceKind
    arg: str = ""
    text: str = field(default="", compare=False, repr=False)

    def __str__(self) -> str:
        if self.text:
            return self.text
        if self.kind == "http":
            return self.arg
        return "push" if self.kind == "push" else f"{self.kind}:{self.arg}"


def parse_source(text: str) -> SourceSpec:
    """The spec of ``text``, or ValueError with one sentence when it is not usable.

    Checks syntax only (no network, no file access): a URL's host and port, a DNS
    preset or NAME@SERVER[:PORT], an interface name, a command line, a path, an address.
    """
    spec = _split(text)
    kind, rest = spec.kind, spec.arg
    if kind == "http":
        try:
            parts = urlsplit(rest)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"address source {redact_source(rest)!r} is not a valid URL") from None
        if not parts.hostname:
            raise ValueError(f"address source {redact_source(rest)!r} has no host name")
    elif kind == "dns":
        split_dns_source(rest)
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
    return spec


def _split(source: str) -> SourceSpec:
    """Kind and rest, unchecked; ValueError when the kind is unknown."""
    text = source.strip()
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        return SourceSpec("http", text, source)
    if lower == "push":
        return SourceSpec("push", "", source)
    kind, sep, rest = text.partition(":")
    if sep and kind.lower() in _PREFIXED:
        return SourceSpec(cast(SourceKind, kind.lower()), rest.strip(), source)
    try:
        parse_address(text)
    except ValueError:
        pass
    else:
        raise ValueError(f"address source {text!r} is a bare address; write static:{text}")
    raise ValueError(f"unknown address source {redact_source(text)!r}; {SOURCE_HELP}")


def split_dns_source(rest: str) -> str | tuple[str, str, int]:
    """The part after ``dns:`` → a preset name, or (name, server host, port).

    ValueError with one sentence if it is neither. The name is checked by
    :func:`ddnsd.names.domain_name`, like every other name, and returned as it has it.
    """
    if "@" not in rest:
        preset = rest.strip().lower()
        if preset not in DNS_PRESETS:
            raise ValueError(
                f"unknown DNS source 'dns:{rest}'; use dns:opendns, dns:google, "
                "dns:cloudflare or dns:NAME@SERVER[:PORT]"
            )
        return preset
    name, _, server = rest.rpartition("@")
    try:
        name = names.domain_name(name.strip())
    except ValueError as exc:
        source = names.shown("dns:" + rest)
        raise ValueError(f"DNS source {source} has no valid name before '@': {exc}") from None
    host, port = split_server(server)
    return name, host, port


def check_iface_name(name: str) -> None:
    """ValueError unless ``name`` can be a Linux interface name."""
    if (
        not name
        or len(name) > 15
        or name in (".", "..")
        or any(ch.isspace() or ch in "/:" for ch in name)
    ):
        raise ValueError(
            f"{name!r} is not an interface name (1-15 characters, no '/', ':' or spaces)"
        )


def split_command(text: str) -> list[str]:
    """``cmd:`` text → argv, or ValueError with one sentence."""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"command {text!r} cannot be split into arguments ({exc})") from None
    if not argv:
        raise ValueError("the cmd: source needs a program, like cmd:/usr/local/bin/my-ip")
    return argv
