"""Where things are: the config file, the state directory, the daemon's hook socket.

Standard library only. The full reader (``read.py``) reads the file with
:func:`read_toml` and resolves ``[state] dir`` with :func:`state_dir`; the daemon finds
where to listen with :func:`socket_path`. A hook finds the daemon's socket with
:func:`hook_sockets`, which reads only ``[http] socket`` and ``[state] dir`` and
resolves them with those same functions, so hooks and daemon follow one set of rules
without the hook loading the configuration models.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ddnsd.errors import ConfigError

DEFAULT_CONFIG = Path("/etc/ddnsd/config.toml")
DEFAULT_STATE_DIR = Path("/var/lib/ddnsd")
CREDENTIAL_KEY_NAME = "transip.key"
SOCKET_NAME = "ddnsd.sock"
#: Where the shipped unit's daemon listens (``RuntimeDirectory=ddnsd``); hooks look here too.
SYSTEMD_SOCKET = Path("/run/ddnsd") / SOCKET_NAME


def config_path(cli_path: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``-c FILE``, else ``$DDNSD_CONFIG``, else ``/etc/ddnsd/config.toml``."""
    env = os.environ if environ is None else environ
    return Path(cli_path or env.get("DDNSD_CONFIG") or DEFAULT_CONFIG)


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at ``path``; ConfigError saying why it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: TOML syntax error: {exc}") from None


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
        return Path(first_dir(state_directory) or DEFAULT_STATE_DIR)
    return config_file.parent / configured  # an absolute one stays itself


def socket_path(configured: str | None, state: Path, runtime_directory: str | None) -> Path | None:
    """Where the daemon listens: ``[http] socket`` ("" = nowhere), else systemd's runtime
    directory, else the state directory."""
    if configured is not None:
        return Path(configured) if configured else None
    runtime = first_dir(runtime_directory)
    return Path(runtime or state) / SOCKET_NAME


def hook_sockets(cli_path: str | None, env: Mapping[str, str]) -> list[Path]:
    """The sockets a hook tries, in order; empty when the config cannot tell (the hook then
    works in-process, and the full reader reports what is wrong with the file).

    Where a daemon with this configuration listens (:func:`socket_path`); with no
    ``[http] socket``, then the state directory and the shipped unit's
    ``/run/ddnsd/ddnsd.sock`` too (certbot's hooks run outside the unit, without its
    ``$RUNTIME_DIRECTORY``).
    """
    path = config_path(cli_path, env).absolute()
    try:
        data = read_toml(path)
    except ConfigError:
        return []
    sock = _key(data, env, "http", "socket")
    directory = _key(data, env, "state", "dir")
    if not isinstance(sock, str | None) or not isinstance(directory, str | None):
        return []
    configured = None if directory is None else Path(directory)
    state = state_dir(configured, path, env.get("STATE_DIRECTORY"))
    where = socket_path(sock, state, env.get("RUNTIME_DIRECTORY"))
    if sock is not None:
        return [] if where is None else [where]
    out: list[Path] = []
    for candidate in (where, state / SOCKET_NAME, SYSTEMD_SOCKET):
        if candidate is not None and os.path.normpath(candidate) not in map(os.path.normpath, out):
            out.append(candidate)
    return out


def _key(data: Mapping[str, object], env: Mapping[str, str], section: str, key: str) -> object:
    """One key of the file, overridden by ``DDNSD_<SECTION>__<KEY>`` (any case, as the full
    reader takes it)."""
    wanted = f"DDNSD_{section}__{key}".upper()
    for name, value in env.items():
        if name.upper() == wanted:
            return value
    table = data.get(section)
    return table.get(key) if isinstance(table, dict) else None
