"""``https://…`` / ``http://…``: a plain-text "what is my IP" echo service.

The connection is forced onto the asked family (the socket is bound to ``0.0.0.0`` or
``::`` before connecting), so a dual-stack echo service reports the address of the
family we asked for. The request is :func:`ddnsd.outbound.get`'s: the
environment's CA bundle is trusted, its proxies are ignored on purpose (through a proxy
the service would see the proxy's address). The answer's first line, stripped, must be
the address; HTML or anything else fails the source with a short excerpt.
"""

from __future__ import annotations

import logging

from ddnsd import outbound
from ddnsd.detect.base import Family, SourceFailed, redact_source
from ddnsd.detect.validate import validate_address

log = logging.getLogger(__name__)

MAX_BODY = 4096
_BIND_ANY = {Family.V4: ("0.0.0.0", 0), Family.V6: ("::", 0)}


def _looks_like_html(text: str) -> bool:
    head = text.lstrip().lower()
    return head.startswith("<") or "<html" in head[:512] or "<body" in head[:512]


class HttpDetector:
    """Ask a plain-text echo service (``https://api.ipify.org``) for our address."""

    def __init__(self, url: str, *, timeout: float = 5.0, allow_private: bool = False) -> None:
        self.url = url
        self.source = redact_source(url)
        self.timeout = timeout
        self.allow_private = allow_private

    def detect(self, family: Family) -> str:
        fam = Family(family)
        try:
            status, body = outbound.get(
                self.url,
                timeout=self.timeout,
                max_body=MAX_BODY + 1,
                proxies=False,  # the service must see us, not a proxy
                bind=_BIND_ANY[fam],
                headers={"Accept": "text/plain"},
            )
        except outbound.NoAnswer as exc:
            if exc.timed_out:
                raise SourceFailed(
                    self.source, fam, f"no answer within {self.timeout:g} s over {fam.label}"
                ) from None
            raise SourceFailed(
                self.source, fam, f"could not connect over {fam.label} ({exc})"
            ) from None
        if status != 200:
            raise SourceFailed(self.source, fam, f"answered HTTP {status}")
        text = body[:MAX_BODY].decode("utf-8", "replace").lstrip("\ufeff")
        if _looks_like_html(text):
            raise SourceFailed(
                self.source, fam, "answered HTML, not an address; is it a plain-text echo URL?"
            )
        first = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not first:
            raise SourceFailed(self.source, fam, "answered an empty body")
        try:
            address = validate_address(first, fam, self.allow_private)
        except ValueError as exc:
            raise SourceFailed(self.source, fam, f"bad answer: {exc}") from None
        log.debug("%s said %s", self.source, address)
        return address
