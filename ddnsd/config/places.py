"""Where things are: the config file, the state directory, the daemon's hook socket.

Standard library only. The reader (``read.py``) and the daemon use these paths; the rules
themselves are :mod:`ddnsd.config.locate`'s, on plain strings, which the hook's forwarding
path uses to find the daemon's socket without pathlib or the configuration models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from ddnsd.config import locate
from ddnsd.config.locate import SOCKET_NAME, first_dir

DEFAULT_CONFIG = Path(locate.DEFAULT_CONFIG)
DEFAULT_STATE_DIR = Path(locate.DEFAULT_STATE_DIR)
CREDENTIAL_KEY_NAME = "transip.key"
#: Where the shipped unit's daemon listens (``RuntimeDirectory=ddnsd``); hooks look here too.
SYSTEMD_SOCKET = Path(locate.SYSTEMD_SOCKET)


def config_path(cli_path: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``-c FILE``, else ``$DDNSD_CONFIG``, else ``/etc/ddnsd/config.toml``."""
    return Path(locate.config_file(cli_path, os.environ if environ is None else environ))


class Place(NamedTuple):
    """Where relative paths point: beside the config file, systemd's directories."""

    file: Path
    credentials: Path | None
    state_directory: str | None

    @classmethod
    def of(cls, path: Path, env: Mapping[str, str]) -> Place:
        creds = env.get("CREDENTIALS_DIRECTORY")
        return cls(path, Path(creds) if creds else None, env.get("STATE_DIRECTORY"))

    @property
    def base(self) -> Path:
        return self.file.parent

    def resolve(self, path: Path | None) -> Path | None:
        """A relative ``*_file``: in the credentials directory if there, else beside the file."""
        if path is None or path.is_absolute():
            return path
        if self.credentials is not None and is_file(self.credentials / path):
            return self.credentials / path
        return self.base / path


def is_file(path: Path) -> bool:
    """``path`` is a file (False, not OSError, for a path too long to look up)."""
    try:
        return path.is_file()
    except OSError:
        return False


def state_dir(configured: Path | None, config_file: Path, state_directory: str | None) -> Path:
    """``[state] dir`` (relative: beside the config file), else systemd's, else the default."""
    where = None if configured is None else str(configured)
    return Path(locate.state_dir(where, str(config_file), state_directory))


def socket_path(configured: str | None, state: Path, runtime_directory: str | None) -> Path | None:
    """Where the daemon listens: ``[http] socket`` ("" = nowhere), else systemd's runtime
    directory, else the state directory."""
    if configured is not None:
        return Path(configured) if configured else None
    runtime = first_dir(runtime_directory)
    return Path(runtime or state) / SOCKET_NAME
