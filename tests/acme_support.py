"""ACME hook runs as tests drive them: a hook config, the zone's challenge values, and the
journal as stored — read it, and move its clock (ddnsd's own) back.

Backdating stands in for waiting: a journal entry ages, or a POST's landing window
passes, without the test sleeping through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

JOURNAL = "acme-journal.json"


def write_hook_config(path: Path, emulator: Any, *, extra: str = "") -> Path:
    """A config for the ACME hooks at ``emulator`` (zone example.test); state dir beside it."""
    q = json.dumps  # a JSON string is a valid TOML basic string for these values
    lines = [
        "[transip]",
        f"login = {q(emulator.login)}",
        f"private_key_file = {q(str(emulator.private_key_path))}",
        f"api_url = {q(emulator.api_url)}",
        "[dns]",
        f"nameservers = [{q(emulator.dns_server)}]",
        "[acme]",
        'zones = ["example.test"]',
        "propagation_timeout = 30",
        "poll_interval = 0.1",
        "[state]",
        f"dir = {q(str(path.parent / 'state'))}",
        extra,
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def challenge_values(emulator: Any, domain: str = "example.test") -> list[str]:
    """The TXT values at ``_acme-challenge`` of ``domain``, sorted."""
    return sorted(
        e.content
        for e in emulator.entries(domain)
        if e.name == "_acme-challenge" and e.type == "TXT"
    )


def journal_entries(state_dir: Path) -> list[dict[str, Any]]:
    """The entries of ``state_dir``'s journal as stored (none when there is no journal)."""
    path = state_dir / JOURNAL
    if not path.exists():
        return []
    return list(json.loads(path.read_text())["entries"])


def backdate_journal(state_dir: Path, seconds: float) -> None:
    """Move every time in the journal ``seconds`` into the past."""
    path = state_dir / JOURNAL
    if not path.exists():
        return
    data = json.loads(path.read_text())
    for entry in data["entries"]:
        for key in ("created", "attempt"):
            if isinstance(entry.get(key), (int, float)):
                entry[key] -= seconds
    path.write_text(json.dumps(data))
