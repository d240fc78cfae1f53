"""The names every front door must refuse (and the ones it must accept), in one table.

Each is a *domain* as an ACME client names it (certbot's CERTBOT_DOMAIN, dehydrated's
DOMAIN); :func:`fqdn` makes the challenge name lego and httpreq send. The tables of
the hooks, httpreq, acme-dns, dyndns2 and the emulator all use these rows.
"""

from __future__ import annotations

ZONE = "example.test"


def _long_name(length: int) -> str:
    """A name under ``_acme-challenge.<label>…example.test`` exactly ``length`` long."""
    tail = "." + ZONE
    labels: list[str] = []
    room = length - len("_acme-challenge.") - len(tail)
    while room > 0:
        size = min(63, room - 1 if room > 1 else 1)
        if room - size == 1:  # a lone dot left over: shorten this label by one
            size -= 1
        labels.append("a" * size)
        room -= size + 1
    body = ".".join(labels)
    return body + tail


#: id → domain; each contains something no name may hold.
REFUSED: dict[str, str] = {
    "newline": "foo\n." + ZONE,
    "trailing-newline": ZONE + "\n",
    "cr": "foo\r." + ZONE,
    "nul": "foo\x00." + ZONE,
    "tab": "foo\t." + ZONE,
    "space": "foo ." + ZONE,
    "leading-space": " " + ZONE,
    "u2028": "foo\u2028." + ZONE,
    "esc": "foo\x1b[31m." + ZONE,
    "double-dot": "foo.." + ZONE,
    "two-trailing-dots": ZONE + "..",
    "leading-dot": "." + ZONE,
    "ideographic-dot-U+3002": "foo\u3002" + ZONE,
    "fullwidth-dot-U+FF0E": "foo\uff0e" + ZONE,
    "halfwidth-dot-U+FF61": "foo\uff61" + ZONE,
    "64-char-label": "a" * 64 + "." + ZONE,
    "254-char-name": _long_name(254),
    "raw-unicode-idn": "bücher." + ZONE,
    "bad-punycode": "xn--zz." + ZONE,
}

#: id → domain that is fine (the fqdn ends up in example.test).
ACCEPTED: dict[str, str] = {
    "punycode-idn": "xn--bcher-kva." + ZONE,
    "one-trailing-dot": "www." + ZONE + ".",
    "63-char-label": "a" * 63 + "." + ZONE,
    "253-char-name": _long_name(253),
}


def fqdn(domain: str) -> str:
    return "_acme-challenge." + domain
