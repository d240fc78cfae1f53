"""Configuration: TOML file + ``DDNSD_*`` environment + secret files → checked settings.

The package's names load lazily, so a module that needs only the plain runtime types
(``ddnsd.config.runtime``) or the durations does not pay for pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ddnsd.config.models import (
        Settings,
        config_path,
        hook_environ,
        load,
        parse_duration,
        process_env,
        read_secret,
        redacted,
        schema_markdown,
        to_toml,
    )

__all__ = [
    "Settings",
    "config_path",
    "hook_environ",
    "load",
    "parse_duration",
    "process_env",
    "read_secret",
    "redacted",
    "schema_markdown",
    "to_toml",
]

_MODULE = "ddnsd.config.models"


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    value = getattr(importlib.import_module(_MODULE), name)
    globals()[name] = value
    return value
