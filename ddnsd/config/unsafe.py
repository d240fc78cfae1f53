"""The control-character check the reader (``read.py``) runs on the whole file, and how
it writes a key in a problem line (standard library only)."""

from __future__ import annotations

from typing import Any

from ddnsd import names


def unsafe_characters(data: Any, key: str = "") -> list[str]:
    """A problem for each string (passwords aside) holding a control character.

    No key has a use for one, and in a name, a path or a log line it does harm.
    The value is never shown: it may be a secret.
    """
    if isinstance(data, dict):
        return [
            p
            for k, v in data.items()
            if k != "password"
            for p in unsafe_characters(v, f"{key}.{key_text(str(k))}" if key else key_text(str(k)))
        ]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in unsafe_characters(v, f"{key}[{i}]")]
    if isinstance(data, str) and (ch := names.unsafe_character(data, spaces=False)):
        return [f"{key}: contains {names.describe(ch)}; remove it"]
    return []


def key_text(name: str) -> str:
    """A key as written, quoted and escaped when it is not a plain word (a typo may be anything)."""
    return name if name.isprintable() and name and " " not in name else repr(name)
