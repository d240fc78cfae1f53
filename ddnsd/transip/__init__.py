"""The TransIP REST API v6. Knows nothing of records or ACME beyond the label of the
work a request is charged to ("ddns" / "acme").

``client`` (one method per endpoint; ``TransipClient._call``, where every API call goes
out: token + transport + retry; ``make_client``) · ``http`` (the one transport) ·
``budget`` (the request budget shared by every ddnsd process of a login; its pure
arithmetic in ``ledger``) · ``retry`` (the pure retry decision) · ``auth`` (token
sources) on ``keys``, ``tokens`` and ``token_cache`` · ``wire`` (JSON ⇄ model, TransIP's
error texts).
"""

from ddnsd.transip.auth import KeyAuth, StaticTokenAuth, TokenSource
from ddnsd.transip.client import TransipClient, make_client
from ddnsd.transip.http import Observer, Transport
from ddnsd.transip.keys import load_private_key
from ddnsd.transip.wire import RateLimit

__all__ = [
    "KeyAuth",
    "Observer",
    "RateLimit",
    "StaticTokenAuth",
    "TokenSource",
    "TransipClient",
    "Transport",
    "load_private_key",
    "make_client",
]
