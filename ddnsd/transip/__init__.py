"""The TransIP REST API v6: authentication (``auth``), the client (``client``) and the
JSON ⇄ model mapping (``wire``). Knows nothing of records or ACME."""

from ddnsd.transip.auth import KeyAuth, StaticTokenAuth, TokenSource, load_private_key
from ddnsd.transip.client import RateLimit, TransipClient, make_client

__all__ = [
    "KeyAuth",
    "RateLimit",
    "StaticTokenAuth",
    "TokenSource",
    "TransipClient",
    "load_private_key",
    "make_client",
]
