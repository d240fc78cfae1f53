"""Reading: TOML file overlaid by ``DDNSD_<SECTION>__<KEY>`` environment variables.

With :mod:`ddnsd.config.environ` and :mod:`ddnsd.config.credentials`, the only code that
reads the environment or configuration/secret files.

Where the file is: ``-c FILE`` / ``--config FILE``, else ``$DDNSD_CONFIG``, else
``/etc/ddnsd/config.toml``. Secrets come from files (``*_file`` keys) and from systemd
credentials (``$CREDENTIALS_DIRECTORY/<name>``): a relative ``*_file`` path is looked up in
the credentials directory first, then next to the config file; with no
``private_key_file`` and no ``access_token_file``, ``$CREDENTIALS_DIRECTORY/transip.key``
is used when it exists. Every validation problem is reported at once, each naming the key.

The models check one value at a time; here one function per section checks what spans
keys or touches the file system, resolves its paths and returns the section as used.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import EnvSettingsSource, SettingsError

from ddnsd.config.acme import AcmeAccountSettings, AcmeSettings, HttpreqSettings
from ddnsd.config.models import (
    DetectSettings,
    DnsSettings,
    DyndnsSettings,
    RecordSettings,
    ScheduleSettings,
    Settings,
    StateSettings,
    TransipSettings,
)
from ddnsd.config.operator import StatusAuthSettings
from ddnsd.config.places import (
    CREDENTIAL_KEY_NAME,
    Place,
    config_path,
    read_toml,
    state_dir,
)
from ddnsd.config.places import is_file as _is_file
from ddnsd.config.unsafe import key_text as _key
from ddnsd.config.unsafe import unsafe_characters
from ddnsd.detect.base import redact_source
from ddnsd.detect.spec import SourceSpec
from ddnsd.errors import ConfigError
from ddnsd.hostport import split_server


def load(
    cli_path: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    require_file: bool = True,
) -> Settings:
    """Read, overlay and validate the configuration; raise ConfigError listing every problem."""
    env = dict(os.environ if environ is None else environ)
    path = config_path(cli_path, env).absolute()
    data: dict[str, Any] = {}
    if _exists(path):
        data = read_toml(path)
    elif require_file:
        raise ConfigError(
            f"config file {path} does not exist; pass -c FILE or set DDNSD_CONFIG "
            "(see config.example.toml)"
        )
    data = _overlay(data, _environment(env))
    unsafe = unsafe_characters(data)
    if unsafe:
        raise ConfigError.in_file(path, unsafe)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError.in_file(path, _format_errors(exc)) from None
    problems: list[str] = []
    settings = _check(settings, Place.of(path, env), problems)
    if problems:
        raise ConfigError.in_file(path, problems)
    return settings


def _exists(path: Path) -> bool:
    """``path.exists()``, False where the name cannot be looked up (too long, …)."""
    try:
        return path.exists()
    except OSError:
        return False


class _EnvSource(EnvSettingsSource):
    """The ``DDNSD_*`` variables of ``environ`` (``DDNSD_CONFIG`` aside) as nested data."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(
            Settings, case_sensitive=False, env_prefix="DDNSD_", env_nested_delimiter="__"
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            k.lower(): v
            for k, v in self._environ.items()
            if k.upper().startswith("DDNSD_") and k.upper() != "DDNSD_CONFIG"
        }


def _environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``DDNSD_*`` variables as nested data; ConfigError naming each variable whose value
    is not the JSON its list or section needs (never showing the value: it may be a secret)."""
    try:
        return dict(_EnvSource(environ)())
    except SettingsError:
        pass
    problems = []
    for name, value in sorted(environ.items()):
        try:
            _EnvSource({name: value})()
        except SettingsError:
            problems.append(f"{name} is not JSON: {_env_json_hint(name)}")
    if not problems:  # they fail together, never one by one
        raise ConfigError(
            "the DDNSD_* environment variables do not fit together; a list or a section "
            "set from the environment is written as JSON"
        )
    if len(problems) == 1:
        raise ConfigError(problems[0])
    raise ConfigError(f"the DDNSD_* environment variables have {len(problems)} problems", problems)


def _env_json_hint(name: str) -> str:
    """How ``name``'s list or section is written, with an example that is not its value."""
    model: Any = Settings
    kind = "list or section"
    for part in name.upper().removeprefix("DDNSD_").lower().split("__"):
        fields = getattr(model, "model_fields", {}) if isinstance(model, type) else {}
        if part not in fields:
            break
        model, kind = _unwrap(fields[part].annotation)
    examples = {
        "list": f"""{name}='["…", "…"]'""",
        "list of sections": f"""{name}='[{{"key": "…"}}, {{"key": "…"}}]'""",
        "section": f"""{name}='{{"key": "…"}}' (or one key: {name}__KEY=…)""",
        "list or section": f"""{name}='["…", "…"]' or {name}='{{"key": "…"}}'""",
    }
    return f"a {kind} set from the environment is written as JSON, e.g. {examples[kind]}"


def _unwrap(annotation: Any) -> tuple[Any, str]:
    """The model inside ``annotation`` (``X | None``, ``list[X]``) and what kind of value
    it takes: "list", "list of sections", "section" or "list or section"."""
    if get_origin(annotation) in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not NoneType]
        annotation = inner[0] if len(inner) == 1 else annotation
    if get_origin(annotation) is list:
        item = (get_args(annotation) or (Any,))[0]
        is_model = isinstance(item, type) and issubclass(item, BaseModel)
        return item, "list of sections" if is_model else "list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "section"
    return annotation, "list or section"


def _overlay(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``top`` laid over it, tables merged key by key (the environment wins)."""
    out = dict(base)
    for key, value in top.items():
        below = out.get(key)
        if isinstance(below, dict) and isinstance(value, Mapping):
            out[key] = _overlay(below, value)
        else:
            out[key] = value
    return out


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        key = _loc(tuple(err["loc"])) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif err["type"] == "missing":
            msg = "is required"
        msg = msg.removeprefix("Value error, ")
        problems.append(f"{key}: {msg}")
    return problems


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{_key(part)}" if out else _key(part))
    return out


# --------------------------------------------------------------------------- one check a section


def _check(s: Settings, place: Place, problems: list[str]) -> Settings:
    """Every section checked in file order; the settings with their paths resolved."""
    return s.model_copy(
        update={
            "transip": _check_transip(s.transip, place, problems),
            "records": _check_records(s.records, problems),
            "detect": _check_detect(s, problems),
            "dns": _check_dns(s.dns, problems),
            "schedule": _check_schedule(s.schedule, problems),
            "state": _check_state(s.state, place),
            "acme": _check_acme(s.acme, place, problems),
            "dyndns": _check_dyndns(s.dyndns, place, problems),
            **_check_view(s, place, problems),
        }
    ).with_source(place.file)


def _check_transip(t: TransipSettings, place: Place, problems: list[str]) -> TransipSettings:
    key_file = place.resolve(t.private_key_file)
    token_file = place.resolve(t.access_token_file)
    creds = place.credentials
    if key_file is None and token_file is None and creds and _is_file(creds / CREDENTIAL_KEY_NAME):
        key_file = creds / CREDENTIAL_KEY_NAME
    if not t.login and token_file is None:
        problems.append("transip.login: is required (your TransIP control panel login)")
    if key_file is None and token_file is None:
        problems.append(
            "transip.private_key_file: is required (or transip.access_token_file, "
            f"or a systemd credential named {CREDENTIAL_KEY_NAME})"
        )
    for key, f in (
        ("transip.private_key_file", key_file),
        ("transip.access_token_file", token_file),
    ):
        if f is not None and not _is_file(f):
            problems.append(f"{key}: {f} does not exist or is not a file")
    return t.model_copy(update={"private_key_file": key_file, "access_token_file": token_file})


def _check_records(records: list[RecordSettings], problems: list[str]) -> list[RecordSettings]:
    seen: set[tuple[str, str, str]] = set()
    for i, r in enumerate(records):
        ident = (r.domain, r.name, r.type)
        if ident in seen:
            problems.append(f"records[{i}]: {r.name} {r.type} in {r.domain} is listed twice")
        seen.add(ident)
    return records


def _check_detect(s: Settings, problems: list[str]) -> DetectSettings:
    """Each source fits its list and is safe; the sources the records need are there."""
    d = s.detect
    for key, version, sources in (("ipv4", 4, d.ipv4), ("ipv6", 6, d.ipv6)):
        for i, spec in enumerate(sources):
            problem = _source_problem(spec, version, d.allow_insecure_sources)
            if problem:
                problems.append(f"detect.{key}[{i}]: {problem}")
    if not s.records:
        return d
    types = {r.type for r in s.records}
    for rtype, key, sources in (("A", "ipv4", d.ipv4), ("AAAA", "ipv6", d.ipv6)):
        if rtype in types and not sources:
            problems.append(f"detect.{key}: no sources, but a record of type {rtype} needs one")
        if rtype in types and sources and d.agree > len(sources):
            problems.append(
                f"detect.agree: {d.agree} sources must agree but detect.{key} lists "
                f"only {len(sources)}"
            )
    uses_push = any(spec.kind == "push" for spec in d.ipv4 + d.ipv6)
    if uses_push and (s.dyndns is None or not s.dyndns.username):
        problems.append("dyndns: the 'push' source needs a [dyndns] section with a username")
    return d


def _source_problem(spec: SourceSpec, version: int, allow_insecure: bool) -> str:
    """Why ``spec`` may not stand in the IPv``version`` list, or ""."""
    if spec.kind == "static":
        found = ipaddress.ip_address(spec.arg).version
        if found != version:
            return (
                f"{spec} is an IPv{found} address, not IPv{version}; move it to detect.ipv{found}"
            )
    if spec.kind == "http" and spec.arg.lower().startswith("http://") and not allow_insecure:
        return (
            f"{redact_source(spec.arg)} is plain HTTP: anyone on the path can forge its "
            "answer and so choose the address your records get; use https://, or set "
            "[detect] allow_insecure_sources = true if you trust the network to it"
        )
    return ""


def _check_dns(dns: DnsSettings, problems: list[str]) -> DnsSettings:
    for i, server in enumerate(dns.nameservers):
        try:
            split_server(server)
        except ValueError as exc:
            problems.append(f"dns.nameservers[{i}]: {exc}")
    return dns


def _check_schedule(schedule: ScheduleSettings, problems: list[str]) -> ScheduleSettings:
    if schedule.verify < schedule.interval:
        problems.append("schedule.verify: must not be shorter than schedule.interval")
    return schedule


def _check_view(s: Settings, place: Place, problems: list[str]) -> dict[str, Any]:
    """[http.status_auth]: its password; [notify]: its URL file resolved (read at start-up)."""
    a = s.http.status_auth
    a = a if a is None else _check_secret("http.status_auth", a, place, problems)
    urls = place.resolve(s.notify.urls_file)
    http, notify = s.http.model_copy(update={"status_auth": a}), s.notify
    return {"http": http, "notify": notify.model_copy(update={"urls_file": urls})}


def _check_state(state: StateSettings, place: Place) -> StateSettings:
    """systemd's ``$STATE_DIRECTORY`` unless the file names a directory; relative: beside it."""
    configured = state.dir if "dir" in state.model_fields_set else None
    return state.model_copy(
        update={"dir": state_dir(configured, place.file, place.state_directory)}
    )


def _check_acme(acme: AcmeSettings, place: Place, problems: list[str]) -> AcmeSettings:
    httpreq = acme.httpreq
    if httpreq is not None:
        if not httpreq.base.startswith("/"):
            problems.append("acme.httpreq.base: must start with '/'")
        if not httpreq.username:
            problems.append("acme.httpreq.username: is required")
        httpreq = _check_secret("acme.httpreq", httpreq, place, problems)
    accounts = []
    for i, a in enumerate(acme.accounts):
        if not a.username:
            problems.append(f"acme.accounts[{i}].username: is required")
        a = _check_secret(f"acme.accounts[{i}]", a, place, problems)
        if not a.fqdn.lower().rstrip(".").startswith("_acme-challenge."):
            problems.append(f"acme.accounts[{i}].fqdn: must start with '_acme-challenge.'")
        accounts.append(a)
    return acme.model_copy(update={"httpreq": httpreq, "accounts": accounts})


def _check_dyndns(
    dyndns: DyndnsSettings | None, place: Place, problems: list[str]
) -> DyndnsSettings | None:
    return None if dyndns is None else _check_secret("dyndns", dyndns, place, problems)


_WithSecret = TypeVar(
    "_WithSecret", HttpreqSettings, AcmeAccountSettings, DyndnsSettings, StatusAuthSettings
)


def _check_secret(key: str, section: _WithSecret, place: Place, problems: list[str]) -> _WithSecret:
    """A password: from its file (resolved here, read by ``web_auth``) or inline."""
    path = place.resolve(section.password_file)
    inline: SecretStr | None = section.password
    if path is None and inline is None:
        problems.append(f"{key}.password_file: is required")
    elif path is None and inline is not None and not inline.get_secret_value().strip():
        problems.append(f"{key}.password: is empty")
    elif path is not None and not _is_file(path):
        problems.append(f"{key}.password_file: {path} does not exist or is not a file")
    return section.model_copy(update={"password_file": path})
