"""ACME DNS-01 arithmetic: names, zones, values and lookups in a zone. PURE: no I/O, no clock.

Everything here works on normalised names: no trailing dot, lower case, IDNA
("xn--") labels. :func:`normalize_name` is the one way in.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from ddnsd.errors import ChallengeRefused
from ddnsd.model import DnsEntry

ACME_LABEL = "_acme-challenge"
ACME_PREFIX = ACME_LABEL + "."

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# TXT values ddnsd writes: one printable ASCII word (ACME values are 43 base64url chars).
_VALUE = re.compile(r"^[\x21-\x7e]{1,255}$")


def normalize_name(name: str, *, allow_wildcard: bool = False) -> str:
    """``"_ACME-Challenge.Bücher.Example."`` → ``"_acme-challenge.xn--bcher-kva.example"``.

    Strips surrounding blanks and one trailing dot, lower-cases, converts each label
    to IDNA. Raises :class:`ChallengeRefused` when the result is not a domain name.
    """
    text = name.strip()
    if text.endswith("."):
        text = text[:-1]
    text = text.lower()
    if not text:
        raise ChallengeRefused("refusing an empty domain name; give a name like example.test")
    try:
        ascii_name = text.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ChallengeRefused(f"refusing {name.strip()!r}: it is not a valid domain name") from exc
    labels = ascii_name.split(".")
    for i, label in enumerate(labels):
        if allow_wildcard and i == 0 and label == "*" and len(labels) > 1:
            continue
        if not _LABEL.match(label):
            raise ChallengeRefused(
                f"refusing {name.strip()!r}: label {label!r} is not valid in a domain name"
            )
    if len(ascii_name) > 253:
        raise ChallengeRefused(f"refusing {name.strip()!r}: the name is longer than 253 characters")
    return ascii_name


def challenge_value(key_auth: str) -> str:
    """The TXT value for a key authorization: base64url(sha256(keyAuth)) without padding."""
    digest = hashlib.sha256(key_auth.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def challenge_name(domain: str) -> str:
    """``"*.Example.test."`` → ``"_acme-challenge.example.test"`` (wildcard = apex name)."""
    name = normalize_name(domain, allow_wildcard=True)
    if name.startswith("*."):
        name = name[2:]
    return ACME_PREFIX + name


def check_value(value: str) -> str:
    """The value with surrounding blanks removed; refuses what cannot be an ACME TXT value."""
    text = value.strip()
    if not _VALUE.match(text) or '"' in text or "\\" in text:
        raise ChallengeRefused(
            "refusing the TXT value: it must be 1 to 255 printable ASCII characters "
            "without blanks, quotes or backslashes (ACME values are 43 base64url characters)"
        )
    return text


def suffixes(fqdn: str) -> list[str]:
    """``"a.b.c"`` → ``["a.b.c", "b.c", "c"]``, longest first."""
    labels = fqdn.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def longest_suffix(fqdn: str, domains: Iterable[str]) -> str | None:
    """The longest of ``domains`` that is ``fqdn`` itself or a parent of it, else None."""
    wanted = {d.rstrip(".").lower() for d in domains}
    for candidate in suffixes(fqdn):
        if candidate in wanted:
            return candidate
    return None


def relative_name(fqdn: str, zone: str) -> str:
    """The name of ``fqdn`` inside ``zone`` as TransIP writes it ("@" for the apex)."""
    if fqdn == zone:
        return "@"
    if not fqdn.endswith("." + zone):
        raise ValueError(f"{fqdn!r} is not inside {zone!r}")
    return fqdn[: -len(zone) - 1]


def find_zone(fqdn: str, domains: Iterable[str]) -> tuple[str, str]:
    """``(zone, relative name)`` for a normalised ``fqdn``: the longest matching domain.

    Raises :class:`ChallengeRefused` when no domain contains the name.
    """
    domain_list = list(domains)
    zone = longest_suffix(fqdn, domain_list)
    if zone is None:
        known = ", ".join(sorted(d.rstrip(".").lower() for d in domain_list)) or "none"
        raise ChallengeRefused(
            f"refusing {fqdn!r}: no domain of this TransIP account contains it "
            f"(domains: {known}); use a name under one of them"
        )
    return zone, relative_name(fqdn, zone)


def check_allowed(fqdn: str, zones: Iterable[str]) -> None:
    """Refuse unless ``fqdn`` starts with ``_acme-challenge.`` and lies inside one of ``zones``.

    ``fqdn`` must already be normalised. The message says which rule failed and how to fix it.
    """
    if not fqdn.startswith(ACME_PREFIX):
        raise ChallengeRefused(
            f"refusing {fqdn!r}: ddnsd only writes ACME challenge records, "
            f"whose names start with {ACME_PREFIX!r}"
        )
    zone_list = sorted({z.rstrip(".").lower() for z in zones})
    if longest_suffix(fqdn, zone_list) is None:
        allowed = ", ".join(zone_list) or "none"
        raise ChallengeRefused(
            f"refusing {fqdn!r}: it is outside the allowed zones ({allowed}); "
            "add its domain to [acme] zones to allow it"
        )


def same_value(entries: Iterable[DnsEntry], entry: DnsEntry) -> list[DnsEntry]:
    """The entries with ``entry``'s name, type and content, whatever their expire."""
    return [
        e
        for e in entries
        if e.name == entry.name and e.type == entry.type and e.content == entry.content
    ]


def find_value(entries: Iterable[DnsEntry], entry: DnsEntry) -> DnsEntry | None:
    """The first of :func:`same_value`, as stored (its expire may differ from ``entry``'s)."""
    found = same_value(entries, entry)
    return found[0] if found else None


def stored_expire(entries: Iterable[DnsEntry], entry: DnsEntry) -> int:
    """The expire the first entry with ``entry``'s name and type uses, else ``entry``'s own.

    TransIP keeps one expire per name and type, so a value added beside others takes theirs.
    """
    for e in entries:
        if e.name == entry.name and e.type == entry.type:
            return e.expire
    return entry.expire
