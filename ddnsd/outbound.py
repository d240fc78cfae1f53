"""Outbound HTTP: every request ddnsd makes goes through ``requests``, one set of settings.

TransIP (``transip/transport.py``), the ``https://`` address sources, heartbeat pings and
Apprise's notifications all use ``requests``, so what a user sets in the environment
applies to every one of them, as README's "Outbound HTTP" says:

* ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``): the CA certificates to trust instead of
  certifi's, e.g. a private CA in front of an Uptime Kuma on the LAN;
* ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``: the proxy. Address
  sources never use one: through a proxy an echo service sees the proxy's address, not
  ours. :func:`session` with ``proxies=False`` leaves the environment's proxies (and
  ``~/.netrc``) out but keeps its CA bundle.

:func:`get` is the one GET of address sources, heartbeats, and ``ddnsd status`` /
``healthcheck`` asking the daemon: it answers the status and
the start of the body, or raises :class:`NoAnswer` with a short reason that holds no URL
(it may hold a token). Callers never see ``requests``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ddnsd import __version__
from ddnsd.config.environ import process_env

USER_AGENT = f"ddnsd/{__version__}"


def ca_bundle() -> str | bool:
    """The CA bundle the environment names (as ``requests`` reads it), else True: certifi."""
    return process_env("REQUESTS_CA_BUNDLE") or process_env("CURL_CA_BUNDLE") or True


class NoAnswer(Exception):
    """A GET that got no HTTP answer; ``str()`` says why, without the URL."""

    def __init__(self, reason: str, *, timed_out: bool) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class _BoundAdapter(HTTPAdapter):
    """An adapter whose connections start from ``source_address`` (``("0.0.0.0", 0)`` keeps
    them on IPv4, ``("::", 0)`` on IPv6), through urllib3's public pool option."""

    def __init__(self, source_address: tuple[str, int]) -> None:
        self._source_address = source_address
        super().__init__(max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["source_address"] = self._source_address
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


def get(
    url: str,
    *,
    timeout: float,
    max_body: int = 0,
    proxies: bool = True,
    bind: tuple[str, int] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """GET ``url``: (status, at most ``max_body`` bytes of the body); NoAnswer without one.

    ``proxies=False`` leaves the environment's proxies (and ``~/.netrc``) out but keeps its
    CA bundle; ``bind`` is the local address connections start from (the address family).
    """
    with requests.Session() as s:
        s.headers["User-Agent"] = USER_AGENT
        s.headers.update(headers or {})
        if not proxies:
            s.trust_env = False  # no proxies, no netrc …
            s.verify = ca_bundle()  # … but the CA bundle, which trust_env=False would drop too
        if bind is not None:
            s.mount("http://", _BoundAdapter(bind))
            s.mount("https://", _BoundAdapter(bind))
        try:
            with s.get(url, timeout=timeout, stream=True) as r:
                body = r.raw.read(max_body, decode_content=True) if max_body else b""
                return r.status_code, body
        # a body read (urllib3's, below requests) fails with urllib3's errors, not requests'
        except (requests.Timeout, urllib3.exceptions.ReadTimeoutError) as exc:
            raise NoAnswer(reason(exc), timed_out=True) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise NoAnswer(reason(exc), timed_out=False) from None


def reason(exc: BaseException) -> str:
    """The innermost readable cause of a ``requests``/urllib3 error, without the URL."""
    cause: BaseException = exc
    while (nxt := cause.__cause__ or cause.__context__) is not None:
        cause = nxt
    text = str(cause) or type(cause).__name__
    # urllib3 errors repeat the pool and URL; keep the part after the last colon-space
    if "Caused by" in text or "Max retries" in text:
        text = text.rsplit(": ", 1)[-1].rstrip(")'\"")
    return text[:160]
