"""Secrets read from their files, and the credentials the HTTP listener checks.

:func:`web_auth` is the one place that turns the ``[acme.httpreq]``, ``[[acme.accounts]]``
and ``[dyndns]`` sections into the plain values of :mod:`ddnsd.config.runtime`; nothing
outside the configuration reads a secret file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from ddnsd.config.models import Settings
from ddnsd.config.runtime import AcmeDnsAccount, DyndnsEndpoint, HttpreqAuth, WebAuth
from ddnsd.errors import ConfigError
from ddnsd.model import RecordSpec


def read_secret(path: Path | None, inline: SecretStr | None) -> str:
    """A password from its file (first line, stripped) or the inline value."""
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the secret file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"the secret file {path} is not UTF-8 text; save it as UTF-8"
            ) from None
        if not lines or not lines[0].strip():
            raise ConfigError(
                f"the secret file {path} is empty; put the password on its first line"
            )
        return lines[0].strip()
    if inline is not None:
        return inline.get_secret_value()
    raise ConfigError("no secret configured")


def web_auth(settings: Settings) -> WebAuth:
    """Every credential the listener checks, secrets read now (ConfigError if unreadable).

    The dyndns2 hostnames default to the configured records' names; ``[dyndns]``
    without a username serves no router push.
    """
    h = settings.acme.httpreq
    httpreq = None
    if h is not None:
        httpreq = HttpreqAuth(h.base, h.username, read_secret(h.password_file, h.password))
    accounts = tuple(
        AcmeDnsAccount(a.username, read_secret(a.password_file, a.password), a.fqdn)
        for a in settings.acme.accounts
    )
    d = settings.dyndns
    dyndns = None
    if d is not None and d.username:
        hostnames = set(d.hostnames) or {
            RecordSpec(r.domain, r.name, r.type).fqdn for r in settings.records
        }
        dyndns = DyndnsEndpoint(
            d.username, read_secret(d.password_file, d.password), frozenset(hostnames)
        )
    return WebAuth(httpreq=httpreq, acmedns=accounts, dyndns=dyndns)
