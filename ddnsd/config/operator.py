"""The sections of the operator's view: ``[notify]`` and ``[http.status_auth]``.

Part of :mod:`ddnsd.config.models` (which imports them from here); kept apart so the
models of the daemon's work stay in one file of a readable size. Every URL of
``[notify]`` is a secret, like the status page's password: check-config, logs and the
status page show a URL's scheme only, and errors never echo one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from ddnsd.config.fields import Duration, Section

NotifyTopic = Literal[
    "address", "written", "failure", "recovery", "conflict", "acme_failure", "deferred"
]


class StatusAuthSettings(Section):
    """[http.status_auth]: HTTP basic auth for the status page (GET / and /api/status).

    Set: every client must log in, loopback ones too (`ddnsd status` reads it here).
    Not set: the status page is served to loopback clients only, others get 403."""

    username: str = Field(description="Basic-auth user name.")
    password_file: Path | None = Field(default=None, description="File holding the password.")
    password: SecretStr | None = Field(
        default=None, description="Password inline (prefer password_file)."
    )

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not v:
            raise ValueError("is required")
        return v


class NotifySettings(Section):
    """[notify]: messages through Apprise, heartbeat pings (docs/status.md#notifications).

    Every URL here is a secret: check-config, logs and the status page show its scheme only."""

    urls: list[SecretStr] = Field(
        default=[],
        description='Apprise URLs: "ntfys://ntfy.sh/topic", "tgram://TOKEN/CHAT", '
        '"mailtos://…", "json://host/path", … Apprise is loaded only when one is set.',
    )
    urls_file: Path | None = Field(
        default=None, description="A file with more Apprise URLs, one a line ('#' comments)."
    )
    events: list[NotifyTopic] = Field(
        default=["address", "failure", "recovery", "acme_failure"],
        description="What is sent: address, written, failure, recovery, conflict, "
        "acme_failure, deferred.",
    )
    failure_after: int = Field(
        default=3, ge=1, description="Failed rounds in a row before one failure message."
    )
    timeout: Duration = Field(default=10.0, description="Longest wait for one send or ping.")
    heartbeat_url: SecretStr | None = Field(
        default=None,
        description="Pinged (GET) after each round that ended in sync: a healthchecks.io "
        "check URL or an Uptime Kuma push URL.",
    )
    heartbeat_fail_url: SecretStr | None = Field(
        default=None,
        description="Pinged after a failed round. Default: heartbeat_url + /fail "
        "(healthchecks.io); Uptime Kuma: the push URL with ?status=down.",
    )
    heartbeat_start: bool = Field(
        default=False,
        description="Ping heartbeat_url + /start before each round (healthchecks.io).",
    )

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[SecretStr]) -> list[SecretStr]:
        for i, url in enumerate(v):
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S", url.get_secret_value()):
                raise ValueError(f"entry {i} is not a URL (scheme://…)")  # never echo a secret
        return v

    @field_validator("heartbeat_url", "heartbeat_fail_url")
    @classmethod
    def _heartbeat(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v.get_secret_value()):
            raise ValueError("is not an http(s) URL")
        return v

    @model_validator(mode="after")
    def _start(self) -> NotifySettings:
        if self.heartbeat_start and self.heartbeat_url is None:
            raise ValueError("heartbeat_start needs heartbeat_url")
        return self
