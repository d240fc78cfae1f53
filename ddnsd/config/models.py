"""Configuration: TOML file overlaid by ``DDNSD_<SECTION>__<KEY>`` environment variables.

This is the ONLY module that reads the environment or configuration/secret files.

Where the file is: ``-c FILE`` / ``--config FILE``, else ``$DDNSD_CONFIG``, else
``/etc/ddnsd/config.toml``. Secrets come from files (``*_file`` keys) and from systemd
credentials (``$CREDENTIALS_DIRECTORY/<name>``): a relative ``*_file`` path is looked up in
the credentials directory first, then next to the config file; with no
``private_key_file`` and no ``access_token_file``, ``$CREDENTIALS_DIRECTORY/transip.key``
is used when it exists. Every validation problem is reported at once, each naming the key.
"""

from __future__ import annotations

import contextvars
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ddnsd import durations
from ddnsd.detect.spec import SourceSpec, parse_source, split_server
from ddnsd.errors import ConfigError

DEFAULT_CONFIG = Path("/etc/ddnsd/config.toml")
DEFAULT_STATE_DIR = Path("/var/lib/ddnsd")
CREDENTIAL_KEY_NAME = "transip.key"


def parse_duration(value: object) -> float:
    """A duration in seconds (see :func:`ddnsd.durations.parse_duration`)."""
    return durations.parse_duration(value)


Duration = Annotated[float, BeforeValidator(parse_duration)]
#: A source string in the file and in dumps; a parsed :class:`SourceSpec` in between.
Source = Annotated[
    SourceSpec,
    GetPydanticSchema(
        lambda _type, _handler: core_schema.no_info_after_validator_function(
            parse_source,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )
    ),
]


def _sources(*texts: str, description: str) -> Any:
    return Field(default_factory=lambda: [parse_source(t) for t in texts], description=description)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TransipSettings(_Section):
    """[transip]: how to reach and authenticate to the TransIP API."""

    login: str = Field(default="", description="TransIP account login (the control panel user).")
    private_key_file: Path | None = Field(
        default=None,
        description="PEM private key generated in the control panel (PKCS#8 or PKCS#1). "
        "Must not be readable by group/others. Default: $CREDENTIALS_DIRECTORY/transip.key.",
    )
    access_token_file: Path | None = Field(
        default=None,
        description="Instead of a key: a file holding an access token made in the control panel. "
        "It cannot be renewed; ddnsd fails loudly when it expires.",
    )
    api_url: str = Field(
        default="https://api.transip.nl/v6",
        description="API base URL. The local emulator: http://127.0.0.1:8780/v6.",
    )
    test_mode: bool = Field(
        default=False, description="TransIP test mode: writes are validated, nothing is applied."
    )
    global_key: bool = Field(
        default=True,
        description="Request tokens usable from any IP. A home server's address changes, so a "
        "whitelisted (non-global) key would stop working exactly when ddnsd is needed.",
    )
    insecure_key_permissions: bool = Field(
        default=False, description="Accept a private key file readable by group/others."
    )
    token_lifetime: str = Field(
        default="1 hour",
        description="expiration_time asked for each token ('30 minutes' … '4 weeks'); "
        "renewed at 80 % of its life.",
    )
    token_cache: bool = Field(
        default=True,
        description="Cache the token in the state dir (mode 0600) so hook processes reuse it.",
    )
    timeout: Duration = Field(default=10.0, description="Timeout of one API request.")

    @field_validator("api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")


class RecordSettings(_Section):
    """[[records]]: one A/AAAA entry kept equal to this machine's address."""

    domain: str = Field(description="The TransIP domain (zone) the record lives in.")
    name: str = Field(description='Entry name relative to the domain; "@" for the apex.')
    type: Literal["A", "AAAA"] = Field(description='"A" (IPv4) or "AAAA" (IPv6).')
    ttl: int = Field(default=300, ge=60, le=86400, description="expire (TTL) in seconds.")
    exclusive: bool = Field(
        default=False,
        description="When several entries share this name and type, keep one and delete the "
        "rest. Off: such a record is a conflict and left alone.",
    )
    ipv6_host: str | None = Field(
        default=None,
        description='AAAA only: fixed interface identifier (e.g. "::1234") combined with the '
        "detected /64 prefix.",
    )

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        v = v.strip().rstrip(".").lower()
        if not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}", v):
            raise ValueError(f"{v!r} is not a domain name")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip().rstrip(".").lower() or "@"
        if v != "@" and not re.fullmatch(r"[a-z0-9_*](?:[a-z0-9_.-]*[a-z0-9_])?", v):
            raise ValueError(f"{v!r} is not an entry name")
        return v

    @model_validator(mode="after")
    def _host(self) -> RecordSettings:
        if self.ipv6_host is not None:
            import ipaddress

            if self.type != "AAAA":
                raise ValueError("ipv6_host only applies to AAAA records")
            try:
                ipaddress.IPv6Address(self.ipv6_host)
            except ValueError as exc:
                raise ValueError(f"ipv6_host {self.ipv6_host!r} is not an IPv6 address") from exc
        return self


class DetectSettings(_Section):
    """[detect]: where this machine's public addresses come from."""

    ipv4: list[Source] = _sources(
        "https://api.ipify.org",
        "dns:opendns",
        "https://ipv4.icanhazip.com",
        description="IPv4 sources: https://URL, dns:opendns|google|cloudflare, "
        "dns:NAME@SERVER[:PORT], iface:NAME, cmd:PATH, file:PATH, static:ADDR, push.",
    )
    ipv6: list[Source] = _sources(
        "https://api6.ipify.org", "dns:google", description="IPv6 sources, same forms."
    )
    agree: int = Field(default=2, ge=1, description="How many sources must report one address.")
    timeout: Duration = Field(default=5.0, description="Timeout of one source.")
    allow_private: bool = Field(
        default=False, description="Accept private/documentation addresses (lab use only)."
    )


class ScheduleSettings(_Section):
    """[schedule]: how often ddnsd looks."""

    interval: Duration = Field(default=300.0, description='Detection round every ("5m").')
    verify: Duration = Field(
        default=3600.0, description="Full API read-back at most this often, even if DNS agrees."
    )
    propagation_grace: Duration = Field(
        default=600.0,
        description="After a write, trust the API this long while nameservers catch up.",
    )
    jitter: Duration = Field(default=5.0, description="Random delay added to each round.")


class DnsSettings(_Section):
    """[dns]: which nameservers to ask (shared by DDNS drift checks and ACME)."""

    nameservers: list[str] = Field(
        default=[],
        description='Ask these ("127.0.0.1:8053", "[::1]:53", "ns0.transip.net") instead of '
        "the zone's NS records.",
    )


class HttpSettings(_Section):
    """[http]: metrics, health, ACME and router-push listener."""

    listen: str = Field(
        default="127.0.0.1:9333",
        description='host:port; "" disables it. Bind to loopback unless the ACME API must be '
        "reachable (Kubernetes sidecar).",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if v and not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:\[\]]*):\d{1,5}", v):
            raise ValueError(f"{v!r} is not host:port (IPv6: [::1]:9333)")
        return v


class StateSettings(_Section):
    """[state]: where ddnsd keeps its token cache, ACME journal and locks."""

    dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        description="State directory (systemd: $STATE_DIRECTORY, i.e. /var/lib/ddnsd).",
    )


class HttpreqSettings(_Section):
    """[acme.httpreq]: lego httpreq endpoints, HTTP basic auth."""

    base: str = Field(default="/acme", description="Path prefix: POST {base}/present, /cleanup.")
    username: str = Field(default="", description="Basic-auth user name.")
    password_file: Path | None = Field(default=None, description="File holding the password.")
    password: SecretStr | None = Field(
        default=None, description="Password inline (prefer password_file)."
    )


class AcmeAccountSettings(_Section):
    """[[acme.accounts]]: an acme-dns compatible /update account."""

    username: str = Field(description="X-Api-User.")
    password_file: Path | None = Field(default=None, description="File holding X-Api-Key.")
    password: SecretStr | None = Field(default=None, description="X-Api-Key inline.")
    fqdn: str = Field(description='The one name it may write, e.g. "_acme-challenge.example.test".')


class AcmeSettings(_Section):
    """[acme]: DNS-01 challenges."""

    zones: list[str] | None = Field(
        default=None, description="Domains challenges may be written in. Default: every domain."
    )
    propagation_timeout: Duration = Field(
        default=600.0, description="How long to wait for every authoritative nameserver."
    )
    poll_interval: Duration = Field(default=1.0, description="Nameserver poll interval.")
    max_age: Duration = Field(
        default=3600.0, description="Journal entries older than this are cleaned up."
    )
    cname_follow: bool = Field(
        default=False, description="Follow _acme-challenge CNAMEs into another account domain."
    )
    expire: int = Field(default=60, ge=60, description="expire (TTL) of challenge TXT entries.")
    httpreq: HttpreqSettings | None = Field(default=None, description="lego httpreq API.")
    accounts: list[AcmeAccountSettings] = Field(default=[], description="acme-dns accounts.")


class DyndnsSettings(_Section):
    """[dyndns]: router push (dyndns2 /nic/update), used by the ``push`` source."""

    username: str = Field(default="", description="Basic-auth user the router sends.")
    password_file: Path | None = Field(default=None, description="File holding its password.")
    password: SecretStr | None = Field(default=None, description="Password inline.")
    hostnames: list[str] = Field(
        default=[], description="Accepted hostnames. Default: the configured records' names."
    )


_ENVIRON: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("ddnsd_environ")


class _EnvSource(EnvSettingsSource):
    """``DDNSD_*`` variables from the environment given to :func:`load` (default: the process's)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENVIRON.get(os.environ)
        return {
            (k if self.case_sensitive else k.lower()): v
            for k, v in env.items()
            if k.upper().startswith("DDNSD_") and k.upper() != "DDNSD_CONFIG"
        }


class Settings(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix="DDNSD_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    transip: TransipSettings = Field(default_factory=TransipSettings)
    records: list[RecordSettings] = Field(default=[])
    detect: DetectSettings = Field(default_factory=DetectSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    dns: DnsSettings = Field(default_factory=DnsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    acme: AcmeSettings = Field(default_factory=AcmeSettings)
    dyndns: DyndnsSettings | None = Field(default=None)

    # Where this configuration came from (not a setting; set by load()).
    source: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment overrides the file (which arrives as init arguments).
        return (_EnvSource(settings_cls), init_settings)


# --------------------------------------------------------------------------- loading


def config_path(cli_path: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``-c FILE``, else ``$DDNSD_CONFIG``, else ``/etc/ddnsd/config.toml``."""
    env = os.environ if environ is None else environ
    if cli_path:
        return Path(cli_path)
    if env.get("DDNSD_CONFIG"):
        return Path(env["DDNSD_CONFIG"])
    return DEFAULT_CONFIG


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
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


def _resolve(path: Path | None, base: Path, credentials: Path | None) -> Path | None:
    if path is None or path.is_absolute():
        return path
    if credentials is not None and (credentials / path).exists():
        return credentials / path
    return base / path


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
    if path.exists():
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: TOML syntax error: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"config file {path}: cannot read it: {exc.strerror}") from exc
    elif require_file:
        raise ConfigError(
            f"config file {path} does not exist; pass -c FILE or set DDNSD_CONFIG "
            "(see config.example.toml)"
        )
    problems: list[str] = []
    try:
        settings = _build(data, env)
    except ValidationError as exc:
        raise ConfigError(
            f"config file {path} has {exc.error_count()} problem(s)", _format_errors(exc)
        ) from None
    settings = _finish(settings, path, env, problems)
    if problems:
        raise ConfigError(f"config file {path} has {len(problems)} problem(s)", problems)
    return settings


def _build(data: dict[str, Any], env: Mapping[str, str]) -> Settings:
    token = _ENVIRON.set(env)
    try:
        return Settings(**data)
    finally:
        _ENVIRON.reset(token)


def _finish(s: Settings, path: Path, env: Mapping[str, str], problems: list[str]) -> Settings:
    """Resolve secret-file paths, fill derived defaults, and check cross-field rules."""
    base = path.parent
    creds = Path(env["CREDENTIALS_DIRECTORY"]) if env.get("CREDENTIALS_DIRECTORY") else None
    t = s.transip
    key_file = _resolve(t.private_key_file, base, creds)
    token_file = _resolve(t.access_token_file, base, creds)
    if key_file is None and token_file is None and creds and (creds / CREDENTIAL_KEY_NAME).exists():
        key_file = creds / CREDENTIAL_KEY_NAME
    state_dir = s.state.dir
    if "dir" not in s.state.model_fields_set and env.get("STATE_DIRECTORY"):
        state_dir = Path(env["STATE_DIRECTORY"].split(":")[0])
    elif not state_dir.is_absolute():
        state_dir = base / state_dir

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
        if f is not None and not f.is_file():
            problems.append(f"{key}: {f} does not exist or is not a file")

    seen: set[tuple[str, str, str]] = set()
    for i, r in enumerate(s.records):
        ident = (r.domain, r.name, r.type)
        if ident in seen:
            problems.append(f"records[{i}]: {r.name} {r.type} in {r.domain} is listed twice")
        seen.add(ident)
    if s.records:
        families = {r.type for r in s.records}
        for fam, key in (("A", "ipv4"), ("AAAA", "ipv6")):
            sources = getattr(s.detect, key)
            if fam in families and not sources:
                problems.append(f"detect.{key}: no sources, but a record of type {fam} needs one")
            if fam in families and sources and s.detect.agree > len(sources):
                problems.append(
                    f"detect.agree: {s.detect.agree} sources must agree but detect.{key} lists "
                    f"only {len(sources)}"
                )
        uses_push = any(spec.kind == "push" for spec in s.detect.ipv4 + s.detect.ipv6)
        if uses_push and (s.dyndns is None or not s.dyndns.username):
            problems.append("dyndns: the 'push' source needs a [dyndns] section with a username")
    for i, server in enumerate(s.dns.nameservers):
        try:
            split_server(server)
        except ValueError as exc:
            problems.append(f"dns.nameservers[{i}]: {exc}")
    if s.schedule.verify < s.schedule.interval:
        problems.append("schedule.verify: must not be shorter than schedule.interval")

    acme = s.acme
    httpreq = acme.httpreq
    if httpreq is not None:
        if not httpreq.base.startswith("/"):
            problems.append("acme.httpreq.base: must start with '/'")
        if not httpreq.username:
            problems.append("acme.httpreq.username: is required")
        httpreq = httpreq.model_copy(
            update={"password_file": _resolve(httpreq.password_file, base, creds)}
        )
        _secret_problem("acme.httpreq", httpreq.password_file, httpreq.password, problems)
    accounts = []
    for i, a in enumerate(acme.accounts):
        a = a.model_copy(update={"password_file": _resolve(a.password_file, base, creds)})
        _secret_problem(f"acme.accounts[{i}]", a.password_file, a.password, problems)
        if not a.fqdn.lower().rstrip(".").startswith("_acme-challenge."):
            problems.append(f"acme.accounts[{i}].fqdn: must start with '_acme-challenge.'")
        accounts.append(a)
    dyndns = s.dyndns
    if dyndns is not None:
        dyndns = dyndns.model_copy(
            update={"password_file": _resolve(dyndns.password_file, base, creds)}
        )
        _secret_problem("dyndns", dyndns.password_file, dyndns.password, problems)

    return s.model_copy(
        update={
            "transip": t.model_copy(
                update={"private_key_file": key_file, "access_token_file": token_file}
            ),
            "state": s.state.model_copy(update={"dir": state_dir}),
            "acme": acme.model_copy(update={"httpreq": httpreq, "accounts": accounts}),
            "dyndns": dyndns,
            "source": path,
        }
    )


def _secret_problem(
    key: str, path: Path | None, inline: SecretStr | None, problems: list[str]
) -> None:
    if path is None and inline is None:
        problems.append(f"{key}.password_file: is required")
    elif path is not None and not path.is_file():
        problems.append(f"{key}.password_file: {path} does not exist or is not a file")


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


# --------------------------------------------------------------------------- process environment


def process_env(name: str) -> str | None:
    """One variable of the process environment set by systemd or a hook caller.

    (NOTIFY_SOCKET, WATCHDOG_USEC, …) — routed
    through here so that config.py stays the only reader of the environment.
    """
    return os.environ.get(name)


def hook_environ() -> dict[str, str]:
    """The variables certbot passes to its hooks (dehydrated passes everything as arguments)."""
    return {k: v for k, v in os.environ.items() if k.startswith("CERTBOT_")}


# --------------------------------------------------------------------------- display


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by ``"********"``.

    Secret *files* are shown by path (the path is not the secret); inline secrets are hidden.
    """
    data = settings.model_dump(mode="json", exclude={"source"})

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: ("********" if k == "password" and v is not None else scrub(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [scrub(x) for x in node]
        return node

    return dict(scrub(data))


def to_toml(data: Mapping[str, Any]) -> str:
    """Render plain data as TOML (enough for check-config output)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def table(prefix: str, d: Mapping[str, Any], array: bool = False) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict) and not _is_tables(v)}
        lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        for k, v in scalars.items():
            if v is not None:
                lines.append(f"{k} = {value(v)}")
        lines.append("")
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}", v)
            elif _is_tables(v):
                for item in v:
                    table(f"{prefix}.{k}", item, array=True)

    for k, v in data.items():
        if isinstance(v, dict):
            table(k, v)
        elif _is_tables(v):
            for item in v:
                table(k, item, array=True)
        elif v is not None:
            lines.insert(0, f"{k} = {value(v)}")
    return "\n".join(lines).rstrip() + "\n"


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


# --------------------------------------------------------------------------- schema docs


def schema_markdown() -> str:
    """docs/configuration.md, generated from the models above (``ddnsd config-schema``)."""
    out = [
        "# Configuration reference",
        "",
        "Generated by `ddnsd config-schema --markdown` from `ddnsd/config.py`; do not edit.",
        "",
        "The file is TOML, found by `-c FILE`, else `$DDNSD_CONFIG`, else "
        "`/etc/ddnsd/config.toml`. Every key can be overridden by an environment variable "
        "`DDNSD_<SECTION>__<KEY>` (e.g. `DDNSD_TRANSIP__LOGIN=me`, "
        "`DDNSD_HTTP__LISTEN=0.0.0.0:9333`). Durations accept `90`, `30s`, `5m`, `1h`, `1d`. "
        "Relative `*_file` paths are looked up in `$CREDENTIALS_DIRECTORY` (systemd "
        "`LoadCredential=`) first, then next to the config file.",
        "",
    ]
    sections: list[tuple[str, type[BaseModel]]] = [
        ("[transip]", TransipSettings),
        ("[[records]]", RecordSettings),
        ("[detect]", DetectSettings),
        ("[schedule]", ScheduleSettings),
        ("[dns]", DnsSettings),
        ("[http]", HttpSettings),
        ("[state]", StateSettings),
        ("[acme]", AcmeSettings),
        ("[acme.httpreq]", HttpreqSettings),
        ("[[acme.accounts]]", AcmeAccountSettings),
        ("[dyndns]", DyndnsSettings),
    ]
    for title, model in sections:
        out += [f"## `{title}`", "", (model.__doc__ or "").strip(), ""]
        out += ["| key | default | description |", "|---|---|---|"]
        for name, field in model.model_fields.items():
            if field.annotation is not None and _is_section(field.annotation):
                continue
            if field.is_required():
                default = "*required*"
            else:
                d = field.get_default(call_default_factory=True)
                default = "—" if d is None else f"`{_show_default(d)}`"
            desc = (field.description or "").replace("|", "\\|")
            out.append(f"| `{name}` | {default} | {desc} |")
        out.append("")
    return "\n".join(out)


def _is_section(annotation: Any) -> bool:
    """A nested model (documented as its own table), alone, optional or in a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_is_section(arg) for arg in typing.get_args(annotation))


def _show_default(d: Any) -> str:
    if isinstance(d, Path):
        return str(d)
    if isinstance(d, bool):
        return "true" if d else "false"
    if isinstance(d, list):
        return "[" + ", ".join(f'"{x}"' for x in d) + "]"
    if isinstance(d, str):
        return f'"{d}"'
    return str(d)
