"""The settings an ACME hook needs, read without pydantic: ``[transip] [dns] [acme] [state]``.

A hook that works in-process (no daemon) pays for every import: the configuration models
cost more than the work. This reader takes the four sections the challenge service uses,
applies the same rules (durations, paths beside the file or in ``$CREDENTIALS_DIRECTORY``,
the state dir) and gives up — returns None — on anything it does not accept exactly as
the full reader would: a control character anywhere in the file (the full reader's own
check, :mod:`ddnsd.config.unsafe`), a value of another type, an unknown key, a zone that
is not a domain name, a missing key file, any ``DDNSD_*`` override. The hook then loads
the configuration the usual way (:func:`ddnsd.config.load`), which says what is wrong.
Past that check, the other sections are not read at all. Defaults are the models'
(``tests/unit/test_config_hookconf.py`` holds both readers to the same result).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddnsd import durations, names
from ddnsd.config.places import CREDENTIAL_KEY_NAME, Place, config_path, is_file
from ddnsd.config.unsafe import unsafe_characters


@dataclass(frozen=True)
class HookTransip:
    login: str = ""
    private_key_file: Path | None = None
    access_token_file: Path | None = None
    api_url: str = "https://api.transip.nl/v6"
    test_mode: bool = False
    global_key: bool = True
    insecure_key_permissions: bool = False
    token_lifetime: str = "1 hour"
    token_cache: bool = True
    timeout: float = 10.0
    acme_reserve: float = 0.1
    rate_limit_window: float = 900.0


@dataclass(frozen=True)
class HookDns:
    nameservers: list[str]


@dataclass(frozen=True)
class HookAcme:
    zones: list[str] | None = None
    propagation_timeout: float = 600.0
    poll_interval: float = 1.0
    max_age: float = 3600.0
    cname_follow: bool = False
    expire: int = 60


@dataclass(frozen=True)
class HookState:
    dir: Path
    history_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class HookSettings:
    """The parts of :class:`ddnsd.config.Settings` that ``wiring`` needs for a hook."""

    transip: HookTransip
    dns: HookDns
    acme: HookAcme
    state: HookState


class _Unsure(Exception):
    """Leave this configuration to the full reader."""


def load_for_hook(
    cli_path: str | None, environ: Mapping[str, str] | None = None
) -> HookSettings | None:
    """The hook's settings, or None when the full reader must judge the configuration."""
    env = os.environ if environ is None else environ
    if any(k.upper().startswith("DDNSD_") and k.upper() != "DDNSD_CONFIG" for k in env):
        return None
    path = config_path(cli_path, env).absolute()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        if unsafe_characters(data):
            raise _Unsure
        place = Place.of(path, env)
        return HookSettings(
            transip=_transip(_section(data, "transip", HookTransip.__dataclass_fields__), place),
            dns=_dns(_section(data, "dns", HookDns.__dataclass_fields__)),
            acme=_acme(_section(data, "acme", HookAcme.__dataclass_fields__)),
            state=_state(_section(data, "state", HookState.__dataclass_fields__), place),
        )
    except (OSError, ValueError, _Unsure):  # TOMLDecodeError is a ValueError
        return None


def _section(data: Mapping[str, Any], name: str, fields: Iterable[str]) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise _Unsure
    known = set(fields)
    if name == "acme":
        known |= {"httpreq", "accounts"}  # the daemon's; a hook does not read them
    if set(table) - known:
        raise _Unsure
    return table


def _get(table: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = table.get(key, default)
    if value is not default and (
        not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
    ):
        raise _Unsure
    return value


def _duration(
    table: Mapping[str, Any], key: str, default: float, maximum: float = durations.MAX_DURATION
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool):
        raise _Unsure
    return durations.parse_duration(value, maximum=maximum)


def _transip(t: Mapping[str, Any], place: Place) -> HookTransip:
    d = HookTransip()
    key_file = place.resolve(_path(t, "private_key_file"))
    token_file = place.resolve(_path(t, "access_token_file"))
    creds = place.credentials
    if key_file is None and token_file is None and creds and is_file(creds / CREDENTIAL_KEY_NAME):
        key_file = creds / CREDENTIAL_KEY_NAME
    login = _get(t, "login", str, d.login)
    if (key_file is None and token_file is None) or (not login and token_file is None):
        raise _Unsure
    if any(f is not None and not is_file(f) for f in (key_file, token_file)):
        raise _Unsure
    api_url = _get(t, "api_url", str, d.api_url)
    if not re.match(r"^https?://[^/\s]+", api_url):
        raise _Unsure
    return HookTransip(
        login=login,
        private_key_file=key_file,
        access_token_file=token_file,
        api_url=api_url.rstrip("/"),
        test_mode=_get(t, "test_mode", bool, d.test_mode),
        global_key=_get(t, "global_key", bool, d.global_key),
        insecure_key_permissions=_get(
            t, "insecure_key_permissions", bool, d.insecure_key_permissions
        ),
        token_lifetime=durations.token_lifetime(t.get("token_lifetime", d.token_lifetime))[0],
        token_cache=_get(t, "token_cache", bool, d.token_cache),
        timeout=_duration(t, "timeout", d.timeout),
        acme_reserve=_fraction(t, "acme_reserve", d.acme_reserve, 0.5),
        rate_limit_window=_duration(t, "rate_limit_window", d.rate_limit_window, maximum=86400),
    )


def _fraction(table: Mapping[str, Any], key: str, default: float, most: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= most:
        raise _Unsure
    return float(value)


def _path(table: Mapping[str, Any], key: str) -> Path | None:
    value = _get(table, key, str, None)
    return None if value is None else Path(value)


def _dns(table: Mapping[str, Any]) -> HookDns:
    from ddnsd.detect.spec import split_server

    servers = _strings(table, "nameservers") or []
    for server in servers:
        split_server(server)  # ValueError: the full reader reports it
    return HookDns(nameservers=servers)


def _strings(table: Mapping[str, Any], key: str) -> list[str] | None:
    value = table.get(key)
    if value is not None and (
        not isinstance(value, list) or not all(isinstance(v, str) for v in value)
    ):
        raise _Unsure
    return value


def _acme(a: Mapping[str, Any]) -> HookAcme:
    d = HookAcme()
    expire = _get(a, "expire", int, d.expire)
    if expire < 60:
        raise _Unsure
    zones = _strings(a, "zones")
    return HookAcme(
        zones=None if zones is None else [names.domain_name(z) for z in zones],  # or ValueError
        propagation_timeout=_duration(a, "propagation_timeout", d.propagation_timeout),
        poll_interval=_duration(a, "poll_interval", d.poll_interval),
        max_age=_duration(a, "max_age", d.max_age),
        cname_follow=_get(a, "cname_follow", bool, d.cname_follow),
        expire=expire,
    )


def _state(table: Mapping[str, Any], place: Place) -> HookState:
    from ddnsd.config.places import state_dir

    configured = _path(table, "dir")
    history = _get(table, "history_bytes", int, HookState.history_bytes)
    if history < 65536:
        raise _Unsure
    return HookState(state_dir(configured, place.file, place.state_directory), history)
