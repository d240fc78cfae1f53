"""The rules of :mod:`ddnsd.config.places` on plain strings, for the hook's fast path.

A hook that a running daemon serves must find the daemon's socket without the
configuration models and without :mod:`pathlib`: this module reads just ``[http] socket``
and ``[state] dir`` from the TOML file and their ``DDNSD_*`` overrides (standard library
only: ``os.path`` and ``tomllib``). ``places.py`` builds its :class:`~pathlib.Path` API on
these functions, so both follow one set of rules.
"""

from __future__ import annotations

import os
import tomllib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_CONFIG = "/etc/ddnsd/config.toml"
DEFAULT_STATE_DIR = "/var/lib/ddnsd"
SOCKET_NAME = "ddnsd.sock"
#: Where the shipped unit's daemon listens (``RuntimeDirectory=ddnsd``); hooks look here too.
SYSTEMD_SOCKET = "/run/ddnsd/" + SOCKET_NAME


def config_file(cli_path: str | None, env: Mapping[str, str]) -> str:
    """``-c FILE``, else ``$DDNSD_CONFIG``, else ``/etc/ddnsd/config.toml``."""
    return cli_path or env.get("DDNSD_CONFIG") or DEFAULT_CONFIG


def first_dir(systemd_value: str | None) -> str | None:
    """The first of systemd's ``$STATE_DIRECTORY`` / ``$RUNTIME_DIRECTORY`` (":"-separated)."""
    return systemd_value.split(":")[0] if systemd_value else None


def state_dir(configured: str | None, config: str, state_directory: str | None) -> str:
    """``[state] dir`` (relative: beside the config file), else systemd's, else the default."""
    if configured is None:
        return first_dir(state_directory) or DEFAULT_STATE_DIR
    return os.path.join(os.path.dirname(config), configured)  # an absolute one stays itself


def hook_socket_candidates(cli_path: str | None, env: Mapping[str, str]) -> list[str]:
    """The sockets a hook tries, in order; empty when the config cannot tell (the hook then
    works in-process, and the full reader reports what is wrong with the file).

    With no ``[http] socket``: where a daemon with this configuration listens (the state
    directory; ``$RUNTIME_DIRECTORY`` under systemd), the state directory, then the shipped
    unit's ``/run/ddnsd/ddnsd.sock`` (certbot's hooks run outside the unit).
    """
    path = os.path.abspath(config_file(cli_path, env))
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, ValueError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return []
    sock = _key(data, env, "http", "socket")
    directory = _key(data, env, "state", "dir")
    if not isinstance(sock, str | None) or not isinstance(directory, str | None):
        return []
    if sock is not None:
        return [sock] if sock else []
    state = state_dir(directory, path, env.get("STATE_DIRECTORY"))
    runtime = first_dir(env.get("RUNTIME_DIRECTORY"))
    out = [os.path.join(runtime, SOCKET_NAME)] if runtime else []
    for candidate in (os.path.join(state, SOCKET_NAME), SYSTEMD_SOCKET):
        if os.path.normpath(candidate) not in map(os.path.normpath, out):
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
