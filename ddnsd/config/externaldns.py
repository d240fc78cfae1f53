"""The ``[external_dns]`` section: ddnsd as external-dns's TransIP webhook provider.

Part of :mod:`ddnsd.config.models` (``Settings.external_dns``); the provider itself is
:mod:`ddnsd.externaldns`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ddnsd.config.fields import DomainName, Duration, Listen, Section


class ExternalDnsSettings(Section):
    """[external_dns]: the external-dns webhook provider (a sidecar of external-dns)."""

    listen: Listen = Field(
        default="",
        description='ADDRESS:PORT of the webhook API external-dns calls ("127.0.0.1:8888", '
        'its convention, in the external-dns pod); "" (the default) turns it off.',
    )
    domains: list[DomainName] | None = Field(
        default=None,
        description="The domains external-dns may manage, announced as its domain filter. "
        "Default: every domain of the TransIP account.",
    )
    refresh: Duration = Field(
        default=300.0,
        description="How old the view of a zone behind GET /records may be before it is read "
        "from TransIP again; ddnsd's own writes update it in place.",
    )
    min_ttl: int = Field(
        default=60,
        ge=1,
        description="A lower TTL asked for by external-dns is raised to this (/adjustendpoints).",
    )
    default_ttl: int = Field(
        default=300,
        ge=1,
        description="The TTL of an endpoint that asks for none (recordTTL 0 or absent).",
    )

    @model_validator(mode="after")
    def _ttls(self) -> ExternalDnsSettings:
        if self.default_ttl < self.min_ttl:
            raise ValueError(f"default_ttl ({self.default_ttl}) is below min_ttl ({self.min_ttl})")
        return self
