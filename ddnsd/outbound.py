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

:func:`session` makes the sessions for heartbeats and address sources; :func:`reason`
turns a failed request into a short sentence without the URL (it may hold a token).
"""

from __future__ import annotations

import os

import requests

from ddnsd import __version__

USER_AGENT = f"ddnsd/{__version__}"


def ca_bundle() -> str | bool:
    """The CA bundle the environment names (as ``requests`` reads it), else True: certifi."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def session(*, proxies: bool = True) -> requests.Session:
    """A ``requests.Session`` with ddnsd's User-Agent; ``proxies=False``: no proxy from the
    environment, the environment's CA bundle still trusted."""
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    if not proxies:
        s.trust_env = False  # no proxies, no netrc …
        s.verify = ca_bundle()  # … but the CA bundle, which trust_env=False would drop too
    return s


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
