"""The ``[acme]`` sections: DNS-01 challenges, the lego httpreq API, acme-dns accounts.

Part of :mod:`ddnsd.config.models` (``Settings.acme``); kept apart so each file stays of a
readable size.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from ddnsd.config.fields import DomainName, Duration, Section


class HttpreqSettings(Section):
    """[acme.httpreq]: lego httpreq endpoints, HTTP basic auth."""

    base: str = Field(default="/acme", description="Path prefix: POST {base}/present, /cleanup.")
    username: str = Field(default="", description="Basic-auth user name.")
    password_file: Path | None = Field(default=None, description="File holding the password.")
    password: SecretStr | None = Field(
        default=None, description="Password inline (prefer password_file)."
    )


class AcmeAccountSettings(Section):
    """[[acme.accounts]]: an acme-dns compatible /update account."""

    username: str = Field(description="X-Api-User.")
    password_file: Path | None = Field(default=None, description="File holding X-Api-Key.")
    password: SecretStr | None = Field(default=None, description="X-Api-Key inline.")
    fqdn: DomainName = Field(
        description='The one name it may write, e.g. "_acme-challenge.example.test".'
    )


class AcmeSettings(Section):
    """[acme]: DNS-01 challenges."""

    zones: list[DomainName] | None = Field(
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
