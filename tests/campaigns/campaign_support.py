"""The campaign figures table (shared by tests/campaigns/conftest.py and its tests)."""

from __future__ import annotations

from typing import Any

SIZES = {"quick": 1, "full": 10}  # a campaign multiplies its own base case count by this

#: The table's columns, in order; a campaign fills the ones that apply ("—" otherwise).
COLUMNS = [
    ("cases", "cases"),
    ("faults", "faults by kind"),
    ("orphans", "orphans"),
    ("server_errors", "5xx"),
    ("unintended_writes", "unintended writes"),
    ("tracebacks", "tracebacks"),
    ("secrets_found", "secrets found"),
]


def check_row(row: dict[str, Any]) -> None:
    unknown = set(row) - {key for key, _ in COLUMNS}
    if unknown:
        raise AssertionError(f"unknown figure(s) {sorted(unknown)}; columns are {COLUMNS}")


def cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or "0"
    return str(value)


def table(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The markdown table: one line per campaign, sorted by name."""
    lines = [
        "| campaign | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name in sorted(rows):
        cells = " | ".join(cell(rows[name].get(key)) for key, _ in COLUMNS)
        lines.append(f"| {name} | {cells} |")
    return lines
