"""ACME as tests drive it: a ddnsd config for the hooks and the daemon, the zone's
challenge values, and the journal as stored — read it, and move its clock (ddnsd's own)
back.

Backdating stands in for waiting: a journal entry ages, or a POST's landing window
passes, without the test sleeping through it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

JOURNAL = "acme-journal.json"
HTTPREQ_PASSWORD = "e2e-httpreq-secret"  # a test value, written to a 0600 file


def write_ddnsd_config(
    directory: Path,
    emulator: Any,
    *,
    zones: Sequence[str] = ("example.test",),
    propagation_timeout: float = 60,
    max_age: str | None = None,
    http_listen: str | None = None,
    httpreq_password: str = HTTPREQ_PASSWORD,
    extra: str = "",
) -> Path:
    """A ddnsd config for ``emulator`` (state dir beside it); returns the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    state_dir = directory / "state"
    state_dir.mkdir(exist_ok=True)
    pw_file = directory / "httpreq.pw"
    pw_file.write_text(httpreq_password + "\n")
    pw_file.chmod(0o600)
    q = json.dumps  # a JSON string is a valid TOML basic string for our values
    lines = [
        "[transip]",
        f"login = {q(emulator.login)}",
        f"private_key_file = {q(str(emulator.private_key_path))}",
        f"api_url = {q(emulator.api_url)}",
        "",
        "[dns]",
        f"nameservers = [{q(emulator.dns_server)}]",
        "",
        "[acme]",
        f"zones = [{', '.join(q(z) for z in zones)}]",
        f"propagation_timeout = {propagation_timeout:g}",
    ]
    if max_age is not None:
        lines.append(f"max_age = {q(max_age)}")
    lines += [
        "",
        "[acme.httpreq]",
        'base = "/acme"',
        'username = "lego"',
        f"password_file = {q(str(pw_file))}",
        "",
        "[state]",
        f"dir = {q(str(state_dir))}",
    ]
    if http_listen is not None:
        lines += ["", "[http]", f"listen = {q(http_listen)}"]
    if extra:
        lines += ["", extra]
    path = directory / "ddnsd.toml"
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
