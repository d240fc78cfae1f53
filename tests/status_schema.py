"""docs/status.md as data: the documented /api/status fields and event kinds, and a check
of a status document against them (unit tests and the browser test share it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "status.md"

_TYPES: dict[str, Any] = {
    "string": str,
    "number": (int, float),
    "bool": bool,
    "null": type(None),
    "object": dict,
    "array": list,
    "event": dict,
}


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def documented_fields() -> dict[str, set[str]]:
    """``records[].name`` → {"string"}, ``daemon`` → {"object", "null"}, …"""
    rows = re.findall(r"^\| `([^`]+)` \| ([a-z|\\]+) \|", _section("`GET /api/status`"), re.M)
    return {path: set(types.replace("\\", "").split("|")) for path, types in rows}


def documented_kinds() -> dict[str, tuple[str, ...]]:
    """``address`` → ("family", "old", "new", "sources"), …"""
    rows = re.findall(r"^\| `([a-z_]+)` \| ((?:`[a-z_]+`(?:, )?)+) \|", _section("Events"), re.M)
    return {kind: tuple(re.findall(r"`([a-z_]+)`", fields)) for kind, fields in rows}


def check_document(doc: dict[str, Any]) -> list[str]:
    """Every problem of ``doc`` against docs/status.md: undocumented fields, wrong types,
    documented fields missing where their parent is present."""
    fields = documented_fields()
    problems: list[str] = []
    seen: set[str] = set()

    def walk(value: Any, path: str) -> None:
        seen.add(path)
        types = fields.get(path)
        if types is None and any(p.startswith(path + ".") for p in fields):
            types = {"object"}  # a list's items, documented field by field
        if types is None:
            problems.append(f"{path}: not documented")
            return
        wrong_bool = isinstance(value, bool) and "bool" not in types
        if wrong_bool or not any(isinstance(value, _TYPES[t]) for t in types):
            problems.append(f"{path}: {value!r} is not {'|'.join(sorted(types))}")
        if "event" in types:
            if not (
                isinstance(value.get("at"), float | int) and isinstance(value.get("kind"), str)
            ):
                problems.append(f"{path}: {value!r} is not an event")
            return
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
            present = {p for p in fields if p.rsplit(".", 1)[0] == path and "." in p}
            problems.extend(f"{p}: missing" for p in present if p.rsplit(".", 1)[1] not in value)
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")

    for key, value in doc.items():
        walk(value, key)
    problems.extend(
        f"{p}: missing" for p in fields if "." not in p and "[" not in p and p not in doc
    )
    return problems
