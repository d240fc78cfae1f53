"""Secrets read from their files."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from ddnsd.errors import ConfigError


def read_secret(path: Path | None, inline: SecretStr | None) -> str:
    """A password from its file (first line, stripped) or the inline value."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8-sig").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise ConfigError(f"cannot read the secret file {path}: {exc}") from exc
    if inline is not None:
        return inline.get_secret_value()
    raise ConfigError("no secret configured")
