"""ddnsd.transip.wire: the texts of refused writes the ACME service acts on (table-driven)."""

from __future__ import annotations

import pytest

from ddnsd.transip.wire import (
    is_already_exists,
    is_expire_mismatch,
    is_unknown_domain,
    mentions_domain,
)

EXISTS = "The DNS entry '_acme-challenge 60 TXT abc' already exists"  # the emulator's text
MISMATCH = (
    "Entries with the same name and type must share one expire: '_acme-challenge TXT' uses 300"
)
UNKNOWN_DOMAIN = "Domain with name 'other.test' not found"  # the API documentation's text
ENTRY_MISSING = "DNS Entry not found"

# (id, message, already exists, expire mismatch, unknown domain, mentions domain)
TEXTS = [
    ("already-exists", EXISTS, True, False, False, False),
    ("already-exist-plural", "These DNS entries already exist", True, False, False, False),
    ("expire-share", MISMATCH, False, True, False, False),
    ("expire-differs", "The EXPIRE differs from the stored one", False, True, False, False),
    ("expire-alone", "Invalid expire '0' for DNS entry 'x'", False, False, False, False),
    ("unknown-domain", UNKNOWN_DOMAIN, False, False, True, True),
    ("unknown-domain-lower", "domain with name '' not found", False, False, True, True),
    ("entry-missing", ENTRY_MISSING, False, False, False, False),
    ("domain-elsewhere", "The domain is locked", False, False, False, True),
    ("saving", "Error fetching Dns Entries: DNS Entries are currently being saved", *[False] * 4),
]


@pytest.mark.parametrize(
    ("message", "exists", "mismatch", "unknown", "mentions"),
    [t[1:] for t in TEXTS],
    ids=[t[0] for t in TEXTS],
)
def test_write_refusal_texts(
    message: str, exists: bool, mismatch: bool, unknown: bool, mentions: bool
) -> None:
    assert is_already_exists(message) is exists
    assert is_expire_mismatch(message) is mismatch
    assert is_unknown_domain(message) is unknown
    assert mentions_domain(message) is mentions
