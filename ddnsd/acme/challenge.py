"""ACME DNS-01 arithmetic: names, zones, values and lookups in a zone. PURE: no I/O, no clock.

Everything here works on normalised names: no trailing dot, lower case, IDNA
("xn--") labels. :func:`normalize_name` is the one way in (:mod:`ddnsd.names` holds
the rules).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from ddnsd import names
from ddnsd.errors import BadInput, ChallengeRefused
from ddnsd.model import DnsEntry

ACME_LABEL = "_acme-challenge"
ACME_PREFIX = ACME_LABEL + "."

# TXT values ddnsd writes: one printable ASCII word (ACME values are 43 base64url chars).
_VALUE = re.compile(r"[\x21-\x7e]{1,255}")


def normalize_name(name: str, *, allow_wildcard: bool = False) -> str:
    """``"_ACME-Challenge.Example.TEST."`` → ``"_acme-challenge.example.test"``.

    Lower-cases and drops one trailing dot; raises :class:`BadInput` (a ChallengeRefused)
    for anything that is not an ASCII domain name (:func:`ddnsd.names.domain_name`: no
    control characters or blanks anywhere, raw unicode refused in favour of xn-- labels).
    """
    try:
        return names.domain_name(name, wildcard=allow_wildcard)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def challenge_value(key_auth: str) -> str:
    """The TXT value for a key authorization: base64url(sha256(keyAuth)) without padding."""
    digest = hashlib.sha256(key_auth.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def challenge_name(domain: str) -> str:
    """``"*.Example.test."`` → ``"_acme-challenge.example.test"`` (wildcard = apex name).

    The challenge name itself must be a name too (at most 253 characters).
    """
    name = normalize_name(domain, allow_wildcard=True)
    return normalize_name(ACME_PREFIX + name.removeprefix("*."))


def check_value(value: str) -> str:
    """``value`` when it can be an ACME TXT value, else :class:`BadInput`.

    1 to 255 printable ASCII characters, nothing around them: no blanks, no control
    characters, no quotes or backslashes (ACME values are 43 base64url characters).
    """
    if not _VALUE.fullmatch(value) or '"' in value or "\\" in value:
        raise BadInput(
            f"refusing the TXT value {names.shown(value, 60)}: it must be 1 to 255 printable "
            "ASCII characters without blanks, quotes or backslashes (ACME values are 43 "
            "base64url characters)"
        )
    return value


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
