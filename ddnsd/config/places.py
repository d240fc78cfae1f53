"""Where things are: the config file, the state directory, the daemon's hook socket.

Standard library only. The reader (``read.py``) and the daemon use these rules, and so
does the hook's forwarding path, which must find the daemon's socket without loading
the configuration models: :func:`hook_socket_candidates` reads just ``[http] socket``
and ``[state] dir`` from the TOML file and their ``DDNSD_*`` overrides.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

DEFAULT_CONFIG = Path("/etc/ddnsd/config.toml")
DEFAULT_STATE_DIR = Path("/var/lib/ddnsd")
CREDENTIAL_KEY_NAME = "transip.key"
SOCKET_NAME = "ddnsd.sock"
#: Where the shipped unit's daemon listens (``RuntimeDirectory=ddnsd``); hooks look here too.
SYSTEMD_SOCKET = Path("/run/ddnsd") / SOCKET_NAME


def config_path(cli_path: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``-c FILE``, else ``$DDNSD_CONFIG``, else ``/etc/ddnsd/config.toml``."""
    env = os.environ if environ is None else environ
    if cli_path:
        return Path(cli_path)
    if env.get("DDNSD_CONFIG"):
        return Path(env["DDNSD_CONFIG"])
    return DEFAULT_CONFIG


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


def first_dir(systemd_value: str | None) -> str | None:
    """The first of systemd's ``$STATE_DIRECTORY`` / ``$RUNTIME_DIRECTORY`` (":"-separated)."""
    return systemd_value.split(":")[0] if systemd_value else None


def state_dir(configured: Path | None, config_file: Path, state_directory: str | None) -> Path:
    """``[state] dir`` (relative: beside the config file), else systemd's, else the default."""
    if configured is None:
        systemd = first_dir(state_directory)
        return Path(systemd) if systemd else DEFAULT_STATE_DIR
    return configured if configured.is_absolute() else config_file.parent / configured


def socket_path(configured: str | None, state: Path, runtime_directory: str | None) -> Path | None:
    """Where the daemon listens: ``[http] socket`` ("" = nowhere), else systemd's runtime
    directory, else the state directory."""
    if configured is not None:
        return Path(configured) if configured else None
    runtime = first_dir(runtime_directory)
    return Path(runtime or state) / SOCKET_NAME


def hook_socket_candidates(
    cli_path: str | None, environ: Mapping[str, str] | None = None
) -> list[Path]:
    """The sockets a hook tries, in order; empty when the config cannot tell (the hook then
    works in-process, and the full reader reports what is wrong with the file).

    With no ``[http] socket``: where a daemon with this configuration listens (the state
    directory; ``$RUNTIME_DIRECTORY`` under systemd), the state directory, then the shipped
    unit's ``/run/ddnsd/ddnsd.sock`` (certbot's hooks run outside the unit).
    """
    env = os.environ if environ is None else environ
    path = config_path(cli_path, env).absolute()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, ValueError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return []
    sock = _key(data, env, "http", "socket")
    directory = _key(data, env, "state", "dir")
    if not isinstance(sock, str | None) or not isinstance(directory, str | None):
        return []
    if sock is not None:
        return [Path(sock)] if sock else []
    state = state_dir(
        None if directory is None else Path(directory), path, env.get("STATE_DIRECTORY")
    )
    runtime = first_dir(env.get("RUNTIME_DIRECTORY"))
    out = [Path(runtime) / SOCKET_NAME] if runtime else []
    for candidate in (state / SOCKET_NAME, SYSTEMD_SOCKET):
        if candidate not in out:
            out.append(candidate)
    return out


def _key(data: Mapping[str, object], env: Mapping[str, str], section: str, key: str) -> object:
    """One key of the file, overridden by ``DDNSD_<SECTION>__<KEY>`` (any case)."""
    wanted = f"DDNSD_{section}__{key}".upper()
    for name, value in env.items():
        if name.upper() == wanted:
            return value
    table = data.get(section)
    return table.get(key) if isinstance(table, dict) else None
