"""The checks ``ddnsd run`` makes before it starts, without the network; ``check-config``
and a reload (SIGHUP) run the same ones, so each refuses what a start would refuse.

Each check reports its problems as ConfigError lines (exit 2); :func:`check_startup` lists
them all at once. The parts are built by :mod:`ddnsd.wiring`, as they would be to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ddnsd.errors import ConfigError
from ddnsd.wiring import make_client, make_detectors, make_event_log

if TYPE_CHECKING:
    from ddnsd.config.models import Settings


def check_startup(settings: Settings) -> None:
    """Every check ``ddnsd run`` makes before it starts, without the network.

    The key or token file, the state directory, the secrets the listener needs, the
    listen address, the hook socket's place and group, every address source and the
    notification targets: ConfigError
    listing each problem (exit 2), so ``check-config`` refuses what ``run`` would refuse.
    """
    problems: list[str] = []
    checks = (
        _check_credentials,
        _check_state_dir,
        _check_listen,
        _check_socket,
        _check_sources,
        _check_notify,
    )
    for check in checks:
        try:
            check(settings)
        except ConfigError as exc:
            problems += exc.problems or [str(exc)]
    if problems:
        raise ConfigError.in_file(settings.source, problems)


def _check_credentials(settings: Settings) -> None:
    from ddnsd.config.credentials import web_auth
    from ddnsd.transip.auth import KeyAuth

    t = settings.transip
    key = "transip.access_token_file" if t.access_token_file else "transip.private_key_file"
    try:
        auth = make_client(settings, cache=False).auth  # reads the key (or token) file
        if isinstance(auth, KeyAuth):
            auth.signing_key()  # and parses the key, as the first token request will
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    web_auth(settings)


def _check_state_dir(settings: Settings) -> None:
    """The state directory, or the nearest directory above it, takes a new file."""
    import tempfile

    there = settings.state.dir
    try:
        there = next(p for p in (there, *there.parents) if p.exists())
        if not there.is_dir():
            raise NotADirectoryError(f"{there} is not a directory")
        with tempfile.TemporaryFile(dir=there):
            pass
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise ConfigError(
            f"state.dir: cannot write to {there} ({why}); set [state] dir to a writable directory"
        ) from None


def _check_listen(settings: Settings) -> None:
    """Addresses of this machine (each bound for a moment on a free port), two apart."""
    import socket

    from ddnsd.hostport import parse_listen

    problems: list[str] = []
    listens = {
        "http.listen": settings.http.listen,
        "external_dns.listen": settings.external_dns.listen,
    }
    for key, listen in listens.items():
        if not listen:
            continue
        host, _port = parse_listen(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
        except OSError as exc:
            section = key.split(".")[0]
            problems.append(
                f"{key}: cannot listen on {listen}: no interface of this machine has {host} "
                f"({exc.strerror}); change [{section}] listen"
            )
    x = settings.external_dns.listen
    if x and x == settings.http.listen and parse_listen(x)[1] != 0:
        problems.append(
            f"external_dns.listen: {x} is [http] listen too; give "
            'external-dns its own port ("127.0.0.1:8888")'
        )
    if problems:
        raise ConfigError(problems[0], problems)


def _check_socket(settings: Settings) -> None:
    """The hook socket's directory takes a new file (the state dir, which the daemon
    creates, is checked as such), its path is free or a socket, ``socket_group`` a group.

    A socket there is not probed: a running daemon's is no reason to refuse a config."""
    from ddnsd.config.environ import process_env
    from ddnsd.config.places import socket_path
    from ddnsd.handoff.peers import group_id

    h = settings.http
    path = socket_path(h.socket, settings.state.dir, process_env("RUNTIME_DIRECTORY"))
    if path is None:
        return
    problems: list[str] = []
    why = _socket_dir_problem(path.parent) if path.parent != settings.state.dir else None
    if why is not None:
        problems.append(
            f"http.socket: cannot listen on {path}: {why}; set [http] socket to a writable "
            'place, or to "" to turn the hook socket off'
        )
    elif _is_other_than_socket(path):
        problems.append(
            f"http.socket: {path} exists and is not a socket; remove it or set [http] socket "
            "elsewhere"
        )
    if h.socket_group and group_id(h.socket_group) is None:
        problems.append(
            f"http.socket_group: {h.socket_group!r} is not a group on this machine; set "
            '[http] socket_group to a group name or number, or to "" to serve root and the '
            "daemon's own user only"
        )
    if problems:
        raise ConfigError(problems[0], problems)


def _socket_dir_problem(where: Path) -> str | None:
    """Why the daemon could not create its socket in ``where`` (which it does not create)."""
    import tempfile

    try:
        if not where.exists():
            return f"{where} does not exist"
        if not where.is_dir():
            return f"{where} is not a directory"
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as exc:
        return f"{where}: {exc.strerror or exc}"
    return None


def _is_other_than_socket(path: Path) -> bool:
    """Something that is not a socket is at ``path`` (the daemon would refuse to remove it)."""
    import stat

    try:
        return not stat.S_ISSOCK(path.lstat().st_mode)
    except OSError:  # nothing there yet, or its directory is missing: the daemon makes it
        return False


def _check_sources(settings: Settings) -> None:
    if settings.records:
        make_detectors(settings)


def _check_notify(settings: Settings) -> None:
    """``[notify]``: its URL file read, every Apprise URL known (Apprise loads for URLs only)."""
    make_event_log(settings)
