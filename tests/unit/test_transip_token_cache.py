"""ddnsd.transip.token_cache: what a cache file must hold to be used (files, no sockets)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from ddnsd.transip.token_cache import TokenCache
from ddnsd.transip.tokens import Token

IDENT: dict[str, Any] = {
    "login": "demo",
    "api_url": "http://127.0.0.1:1/v6",
    "fingerprint": "f" * 16,
    "read_only": False,
    "global_key": True,
}
NOW = 1000.0
GOOD: dict[str, Any] = {
    **IDENT,
    "token": "eyJ0.eyJ1.c2ln",
    "received_at": 900.0,
    "renew_at": 2000.0,
    "expires_at": 3000.0,
}


def cache_at(tmp_path: Path) -> TokenCache:
    return TokenCache(
        tmp_path,
        login=IDENT["login"],
        api_url=IDENT["api_url"],
        fingerprint=IDENT["fingerprint"],
        read_only=IDENT["read_only"],
        global_key=IDENT["global_key"],
    )


LOADS: list[tuple[str, dict[str, Any], Token | None, bool]] = [
    ("good", GOOD, Token("eyJ0.eyJ1.c2ln", 2000.0, 3000.0), False),
    ("due-for-renewal", {**GOOD, "renew_at": NOW}, None, False),
    ("other-login", {**GOOD, "login": "other"}, None, True),
    ("token-not-a-string", {**GOOD, "token": 5}, None, True),
    ("token-empty", {**GOOD, "token": ""}, None, True),
    ("token-not-latin1", {**GOOD, "token": "abc\u2019def"}, None, True),
    ("token-latin1-letter", {**GOOD, "token": "abc\u00e9"}, None, True),
    ("token-with-space", {**GOOD, "token": "abc def"}, None, True),
    ("renew-at-missing", {**GOOD, "renew_at": None}, None, True),
]


@pytest.mark.parametrize(
    ("record", "token", "warned"), [c[1:] for c in LOADS], ids=[c[0] for c in LOADS]
)
def test_load(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    record: dict[str, Any],
    token: Token | None,
    warned: bool,
) -> None:
    """A token that could not be sent in a header is unusable like any malformed content
    (and never logged): the file is set aside, the next token request writes a new one."""
    cache = cache_at(tmp_path)
    text = json.dumps(record, ensure_ascii=False)
    cache.path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert cache.load(NOW) == token
    aside = list(tmp_path.glob(f"{cache.path.name}.corrupt-*"))
    assert (f"set aside {cache.path} as " in caplog.text) is warned
    assert [p.read_text(encoding="utf-8") for p in aside] == ([text] if warned else [])
    assert "abc" not in caplog.text


@pytest.mark.parametrize(
    ("held", "refused", "left"),
    [
        ("eyJ0.eyJ1.c2ln", "eyJ0.eyJ1.c2ln", []),
        ("eyJ0.eyJ1.c2ln", "eyJ0.eyJ1.other", ["file"]),
        ("abc\u00e9", "eyJ0.eyJ1.c2ln", ["corrupt"]),
        (5, "eyJ0.eyJ1.c2ln", ["corrupt"]),
    ],
    ids=["same", "other", "held-not-ascii", "held-not-a-string"],
)
def test_discard(tmp_path: Path, held: object, refused: str, left: list[str]) -> None:
    """Only the refused token's file goes; a file holding another token stays, one that
    is no token at all is set aside (and no TypeError from compare_digest)."""
    cache = cache_at(tmp_path)
    cache.path.write_text(json.dumps({**GOOD, "token": held}, ensure_ascii=False))
    cache.discard(refused)
    kept = ["corrupt" if ".corrupt-" in p.name else "file" for p in tmp_path.iterdir()]
    assert kept == left
