"""What the configuration hands to the parts that serve requests: plain frozen values,
secrets already read from their files. Standard library only.

``HttpreqAuth`` (lego httpreq), ``AcmeDnsAccount`` (acme-dns ``/update``),
``DyndnsEndpoint`` (router push) and ``StatusAuth`` (the status page) are built by
:func:`ddnsd.config.credentials.web_auth`, ``NotifyTargets`` by
:func:`ddnsd.config.credentials.notify_targets`; the parts take them as they are and
never read a file or the environment themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit


def _normal(name: str) -> str:
    return name.strip().rstrip(".").lower()


@dataclass(frozen=True)
class HttpreqAuth:
    """lego httpreq: URL base ("/acme"; "" for the root) and the basic-auth credentials."""

    base: str = "/acme"
    username: str = ""
    password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("httpreq needs a username and a password")
        base = "/" + self.base.strip().strip("/")
        object.__setattr__(self, "base", "" if base == "/" else base)


@dataclass(frozen=True)
class AcmeDnsAccount:
    """One acme-dns account: ``X-Api-User`` / ``X-Api-Key`` and the one name it may set."""

    username: str
    password: str = field(repr=False)
    fqdn: str

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("an acme-dns account needs a username and a password")
        object.__setattr__(self, "fqdn", _normal(self.fqdn))


@dataclass(frozen=True)
class DyndnsEndpoint:
    """dyndns2 router push: the basic-auth credentials and the hostnames a router may update."""

    username: str
    password: str = field(repr=False)
    hostnames: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("dyndns needs a username and a password")
        object.__setattr__(self, "hostnames", frozenset(_normal(h) for h in self.hostnames))


@dataclass(frozen=True)
class StatusAuth:
    """The status page's basic-auth credentials (``[http.status_auth]``)."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("status_auth needs a username and a password")


@dataclass(frozen=True)
class WebAuth:
    """Every credential the HTTP listener checks; a part left None (or no accounts) is off."""

    httpreq: HttpreqAuth | None = None
    acmedns: tuple[AcmeDnsAccount, ...] = ()
    dyndns: DyndnsEndpoint | None = None
    status: StatusAuth | None = None


@dataclass(frozen=True)
class NotifyTargets:
    """``[notify]``: Apprise URLs and heartbeat URLs (secrets all), and what to send."""

    urls: tuple[str, ...] = field(default=(), repr=False)
    events: frozenset[str] = frozenset()
    failure_after: int = 3
    timeout: float = 10.0
    heartbeat_url: str | None = field(default=None, repr=False)
    heartbeat_fail_url: str | None = field(default=None, repr=False)
    heartbeat_start: bool = False

    @property
    def active(self) -> bool:
        """Anything to send at all (else nothing is built and Apprise is never imported)."""
        return bool(self.urls or self.heartbeat_url or self.heartbeat_fail_url)


def redact_url(url: str) -> str:
    """A secret URL as logs and pages may show it: its scheme only (``"tgram://…"``)."""
    scheme = urlsplit(url.strip()).scheme if "://" in url else ""
    return f"{scheme}://…" if scheme.isascii() and scheme.isalnum() else "…"
