"""Secrets read from their files: the credentials the HTTP listener checks, the
notification targets.

:func:`web_auth` is the one place that turns the ``[acme.httpreq]``, ``[[acme.accounts]]``,
``[dyndns]`` and ``[http.status_auth]`` sections into the plain values of
:mod:`ddnsd.config.runtime`, :func:`notify_targets` the ``[notify]`` section; nothing
outside the configuration reads a secret file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from ddnsd.config.models import Settings
from ddnsd.config.runtime import (
    AcmeDnsAccount,
    DyndnsEndpoint,
    HttpreqAuth,
    NotifyTargets,
    StatusAuth,
    WebAuth,
)
from ddnsd.errors import ConfigError
from ddnsd.model import RecordSpec


def _text_lines(path: Path, what: str) -> list[str]:
    """The lines of the UTF-8 text file ``path`` (a BOM allowed); ConfigError, one sentence
    about ``what`` (the file as the error names it), when it cannot be read or is not text.
    Never a line of it: it may be a secret."""
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} is not UTF-8 text; save it as UTF-8") from None


def read_secret(path: Path | None, inline: SecretStr | None) -> str:
    """A password from its file (first line, stripped) or the inline value."""
    if path is not None:
        lines = _text_lines(path, f"the secret file {path}")
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
    return WebAuth(httpreq=httpreq, acmedns=accounts, dyndns=dyndns, status=status_auth(settings))


def status_auth(settings: Settings) -> StatusAuth | None:
    """The status page's credentials, when ``[http.status_auth]`` is set."""
    a = settings.http.status_auth
    if a is None:
        return None
    return StatusAuth(a.username, read_secret(a.password_file, a.password))


def notify_targets(settings: Settings) -> NotifyTargets:
    """``[notify]`` with the URLs of ``urls_file`` read (ConfigError if unreadable)."""
    n = settings.notify
    urls = [u.get_secret_value() for u in n.urls]
    if n.urls_file is not None:
        try:
            lines = _text_lines(n.urls_file, str(n.urls_file))
        except ConfigError as exc:
            raise ConfigError(f"notify.urls_file: {exc}") from None
        urls += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]

    def secret(v: SecretStr | None) -> str | None:
        return v.get_secret_value() if v is not None else None

    return NotifyTargets(
        urls=tuple(urls),
        events=frozenset(n.events),
        failure_after=n.failure_after,
        timeout=n.timeout,
        heartbeat_url=secret(n.heartbeat_url),
        heartbeat_fail_url=secret(n.heartbeat_fail_url),
        heartbeat_start=n.heartbeat_start,
    )
