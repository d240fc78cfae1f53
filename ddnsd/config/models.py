"""The configuration's shape: one pydantic model per TOML section, nothing else.

The ``[acme]`` sections are in :mod:`ddnsd.config.acme`, ``[notify]`` and
``[http.status_auth]`` in :mod:`ddnsd.config.operator`, the field types they share in
:mod:`ddnsd.config.fields`.

Reading the file and the environment, checks across keys and secret paths are in
:func:`ddnsd.config.read.load`; printing in :mod:`ddnsd.config.render`.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ddnsd import names
from ddnsd.config.acme import AcmeSettings
from ddnsd.config.externaldns import ExternalDnsSettings
from ddnsd.config.fields import (
    DomainName,
    Duration,
    DurationOrZero,
    Listen,
    Section,
    Source,
    TokenLifetime,
    sources,
)
from ddnsd.config.operator import NotifySettings, StatusAuthSettings
from ddnsd.config.places import DEFAULT_STATE_DIR

#: the largest ``[state] history_bytes``; the history reads files up to this size back
#: whatever the current bound, so lowering it never turns ddnsd's own files into "corrupt"
MAX_HISTORY_BYTES = 64 * 1024 * 1024


class TransipSettings(Section):
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
    token_lifetime: TokenLifetime = Field(
        default="1 hour",
        description="expiration_time asked for each token ('30 minutes' … '4 weeks', or a "
        "duration like '1h'); renewed at 80 % of its life.",
    )
    token_cache: bool = Field(
        default=True,
        description="Cache the token in the state dir (mode 0600) so hook processes reuse it.",
    )
    timeout: Duration = Field(default=10.0, description="Timeout of one API request.")
    acme_reserve: float = Field(
        default=0.1,
        ge=0.0,
        le=0.5,
        description="Share of TransIP's rate limit (1,000 requests / 15 minutes) that DDNS "
        "leaves to ACME challenges, so updating many records never starves a certificate "
        "renewal (0 - 0.5).",
    )
    rate_limit_window: Duration = Field(
        default=900.0,
        description="TransIP's sliding rate-limit window (15 minutes). Change it only for an "
        "emulator started with --rate-limit-window.",
    )

    @field_validator("rate_limit_window")
    @classmethod
    def _window(cls, v: float) -> float:
        if not 0 < v <= 86400:
            raise ValueError("must be more than 0 s and at most a day")
        return v

    @field_validator("api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")


class RecordSettings(Section):
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
        v = names.domain_name(v)
        if not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}", v):
            raise ValueError(f"{v!r} is not a domain name (a TransIP domain like example.nl)")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return "@" if v in ("", "@") else names.domain_name(v, wildcard=True)

    @model_validator(mode="after")
    def _host(self) -> RecordSettings:
        if self.ipv6_host is not None:
            if self.type != "AAAA":
                raise ValueError("ipv6_host only applies to AAAA records")
            try:
                ipaddress.IPv6Address(self.ipv6_host)
            except ValueError as exc:
                raise ValueError(f"ipv6_host {self.ipv6_host!r} is not an IPv6 address") from exc
        return self


class DetectSettings(Section):
    """[detect]: where this machine's public addresses come from."""

    ipv4: list[Source] = sources(
        "https://api.ipify.org",
        "dns:opendns",
        "https://ipv4.icanhazip.com",
        description="IPv4 sources: https://URL, dns:opendns|google|cloudflare, "
        "dns:NAME@SERVER[:PORT], iface:NAME, cmd:PATH, file:PATH, static:ADDR, push.",
    )
    ipv6: list[Source] = sources(
        "https://api6.ipify.org", "dns:google", description="IPv6 sources, same forms."
    )
    agree: int = Field(default=2, ge=1, description="How many sources must report one address.")
    timeout: Duration = Field(default=5.0, description="Timeout of one source.")
    allow_private: bool = Field(
        default=False, description="Accept private/documentation addresses (lab use only)."
    )
    allow_insecure_sources: bool = Field(
        default=False,
        description="Accept http:// sources. Their answer is plain text anyone on the path "
        "can forge, and the forged address goes into DNS; use https:// unless the service "
        "is on a network you trust.",
    )


class ScheduleSettings(Section):
    """[schedule]: how often ddnsd looks."""

    interval: Duration = Field(default=300.0, description='Detection round every ("5m").')
    verify: Duration = Field(
        default=3600.0, description="Full API read-back at most this often, even if DNS agrees."
    )
    propagation_grace: Duration = Field(
        default=600.0,
        description="After a write, trust the API this long while nameservers catch up.",
    )
    jitter: DurationOrZero = Field(
        default=5.0, description="Random delay added to each round (0: none)."
    )


class DnsSettings(Section):
    """[dns]: which nameservers to ask (shared by DDNS drift checks and ACME)."""

    nameservers: list[str] = Field(
        default=[],
        description='Ask these ("127.0.0.1:8053", "[::1]:53", "ns0.transip.net") instead of '
        "the zone's NS records.",
    )


class HttpSettings(Section):
    """[http]: metrics, health, status page, ACME and router-push listener."""

    listen: Listen = Field(
        default="127.0.0.1:9333",
        description='ADDRESS:PORT, an IP address of this machine ("[::1]:9333" for IPv6, '
        '"0.0.0.0:9333" for all); "" disables it. Bind to loopback unless the ACME API must '
        "be reachable (Kubernetes sidecar).",
    )
    status_auth: StatusAuthSettings | None = Field(
        default=None, description="Basic auth for the status page."
    )

    socket: str | None = Field(
        default=None,
        description="Unix socket where `ddnsd present|cleanup|hook` hand their work to the "
        'daemon; "" turns it off. Default: ddnsd.sock in $RUNTIME_DIRECTORY under systemd '
        "(/run/ddnsd/ddnsd.sock), else in the state dir.",
    )
    socket_group: str = Field(
        default="",
        description="Group (name or number) whose members may use the socket, besides root "
        "and the daemon's own user.",
    )

    @field_validator("socket")
    @classmethod
    def _socket(cls, v: str | None) -> str | None:
        if v and not v.startswith("/"):
            raise ValueError(f"{v!r} is not an absolute path")
        return v


class StateSettings(Section):
    """[state]: where ddnsd keeps its token cache, ACME journal and locks."""

    dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        description="State directory (systemd: $STATE_DIRECTORY, i.e. /var/lib/ddnsd).",
    )
    history_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=65536,
        le=MAX_HISTORY_BYTES,
        description="Bound of the event history (history.jsonl and its one rotated file "
        "together), in bytes: 65536 to 67108864 (64 MiB).",
    )


class DyndnsSettings(Section):
    """[dyndns]: router push (dyndns2 /nic/update), used by the ``push`` source."""

    username: str = Field(default="", description="Basic-auth user the router sends.")
    password_file: Path | None = Field(default=None, description="File holding its password.")
    password: SecretStr | None = Field(default=None, description="Password inline.")
    hostnames: list[DomainName] = Field(
        default=[], description="Accepted hostnames. Default: the configured records' names."
    )


class Settings(BaseSettings):
    """The whole configuration. Build it with :func:`ddnsd.config.read.load`: constructed
    directly, it reads nothing from the environment."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    transip: TransipSettings = Field(default_factory=TransipSettings)
    records: list[RecordSettings] = Field(default=[])
    detect: DetectSettings = Field(default_factory=DetectSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    dns: DnsSettings = Field(default_factory=DnsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    acme: AcmeSettings = Field(default_factory=AcmeSettings)
    dyndns: DyndnsSettings | None = Field(default=None)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    external_dns: ExternalDnsSettings = Field(default_factory=ExternalDnsSettings)

    # Where this configuration came from: set by load(), no key of the file sets it.
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file this configuration was read from (None when built by hand)."""
        return self._source

    def with_source(self, source: Path | None) -> Settings:
        """This configuration, read from ``source``."""
        copy = self.model_copy()
        copy._source = source
        return copy

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load() passes in: the file with the DDNSD_* overlay already applied.
        return (init_settings,)
