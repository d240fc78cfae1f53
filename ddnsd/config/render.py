"""The effective configuration as ``check-config`` prints it: TOML, secrets redacted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ddnsd.config.models import Settings

REDACTED = "********"


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by ``"********"``.

    Secret *files* are shown by path (the path is not the secret); inline secrets are hidden.
    """
    data = settings.model_dump(mode="json", exclude={"source"})

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
    """Render plain data as TOML (enough for check-config output)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def table(prefix: str, d: Mapping[str, Any], array: bool = False) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict) and not _is_tables(v)}
        lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        for k, v in scalars.items():
            if v is not None:
                lines.append(f"{k} = {value(v)}")
        lines.append("")
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}", v)
            elif _is_tables(v):
                for item in v:
                    table(f"{prefix}.{k}", item, array=True)

    for k, v in data.items():
        if isinstance(v, dict):
            table(k, v)
        elif _is_tables(v):
            for item in v:
                table(k, item, array=True)
        elif v is not None:
            lines.insert(0, f"{k} = {value(v)}")
    return "\n".join(lines).rstrip() + "\n"


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
