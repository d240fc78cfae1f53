"""The effective configuration as ``check-config`` prints it: TOML, secrets redacted.

Values are written by ``tomli-w`` (every string escaped as TOML requires, so the output
loads back with :mod:`tomllib`); the table layout — ``[section]`` and ``[[records]]``
like ``config.example.toml`` — is chosen here, never inline tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomli_w

from ddnsd.config.models import Settings
from ddnsd.config.runtime import redact_url
from ddnsd.detect.base import redact_source

REDACTED = "********"


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by ``"********"``.

    Secret *files* are shown by path (the path is not the secret); inline secrets are hidden;
    notification URLs show their scheme only (``"tgram://…"``); address sources are shown as
    the log shows them, a URL's password and query values as ``***``.
    """
    data = settings.model_dump(mode="json")
    for key in ("ipv4", "ipv6"):
        data["detect"][key] = [redact_source(str(s)) for s in getattr(settings.detect, key)]
    n = settings.notify
    data["notify"]["urls"] = [redact_url(u.get_secret_value()) for u in n.urls]
    for key in ("heartbeat_url", "heartbeat_fail_url"):
        value = getattr(n, key)
        data["notify"][key] = redact_url(value.get_secret_value()) if value is not None else None

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (REDACTED if k == "password" and v is not None else scrub(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [scrub(x) for x in node]
        return node

    return dict(scrub(data))


def to_toml(data: Mapping[str, Any]) -> str:
    """Plain data (``None`` meaning "not set") as TOML that :mod:`tomllib` reads back."""
    chunks: list[str] = []
    _table(chunks, "", data)
    return "\n".join(chunks)


def _table(chunks: list[str], name: str, table: Mapping[str, Any], array: bool = False) -> None:
    literals = {
        k: v for k, v in table.items() if v is not None and not _is_table(v) and not _is_tables(v)
    }
    head = (f"[[{name}]]\n" if array else f"[{name}]\n") if name else ""
    if head or literals:
        chunks.append(head + tomli_w.dumps(literals))
    for key, value in table.items():
        inner = f"{name}.{key}" if name else key
        if _is_table(value):
            _table(chunks, inner, value)
        elif _is_tables(value):
            for item in value:
                _table(chunks, inner, item, array=True)


def _is_table(v: Any) -> bool:
    return isinstance(v, Mapping)


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, Mapping) for x in v)
