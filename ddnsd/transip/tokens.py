"""Access tokens as data: JWT claims, when to renew, labels. Pure: times and the host
name come in as arguments.

TransIP hands out JSON Web Tokens; ddnsd reads only their ``iat``/``exp`` claims to plan
renewal (TransIP verifies them). A token is renewed once ``RENEW_FRACTION`` of its
lifetime has passed, which leaves the rest for a failed renewal.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

#: Renew a token once this fraction of its lifetime has passed.
RENEW_FRACTION = 0.8


@dataclass(frozen=True)
class Token:
    """A bearer token and its schedule on the local clock (``None``: unknown lifetime).

    The value never appears in ``repr``.
    """

    value: str = field(repr=False)
    renew_at: float | None = None
    expires_at: float | None = None

    def fresh(self, now: float) -> bool:
        """Whether the token may be used at ``now`` without renewing it first."""
        return self.renew_at is None or now < self.renew_at


def is_token_text(value: str) -> bool:
    """Whether ``value`` can be a bearer token: printable ASCII, no spaces, not empty.

    A token goes into an HTTP header (latin-1 at most) and is compared with
    ``secrets.compare_digest`` (ASCII only); TransIP's JWTs are base64url and dots.
    """
    return bool(value) and all("!" <= ch <= "~" for ch in value)


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded without verifying it (``{}`` if it is not a JWT).

    The client only reads ``iat``/``exp`` to plan renewal; TransIP verifies the token.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return {}
    return data if isinstance(data, dict) else {}


def number(value: object) -> float | None:
    """A JSON number as a float; ``None`` for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def token_schedule(
    claims: dict[str, Any], received_at: float, fallback_lifetime: float | None = None
) -> tuple[float, float] | None:
    """``(renew_at, expires_at)`` on the local clock, or ``None`` if the lifetime is unknown.

    The lifetime is ``exp - iat`` from the token (both TransIP's clock), anchored at
    ``received_at`` (our clock), so a skewed local clock does not make ddnsd use expired
    tokens or renew constantly. Without ``iat`` the lifetime is ``exp - received_at``;
    without ``exp`` it is ``fallback_lifetime`` (the requested ``expiration_time``).
    Renewal is due once ``RENEW_FRACTION`` (80 %) of the lifetime has passed.
    """
    exp = number(claims.get("exp"))
    iat = number(claims.get("iat"))
    if iat is None:
        iat = number(claims.get("nbf"))
    if exp is not None and iat is not None:
        lifetime = exp - iat
    elif exp is not None:
        lifetime = exp - received_at
    elif fallback_lifetime is not None:
        lifetime = fallback_lifetime
    else:
        return None
    if lifetime <= 0:
        return received_at, received_at
    return received_at + RENEW_FRACTION * lifetime, received_at + lifetime


def scheduled(value: str, received_at: float, fallback_lifetime: float | None) -> Token:
    """``value`` as a ``Token`` with the schedule its claims (or the fallback) give."""
    schedule = token_schedule(jwt_claims(value), received_at, fallback_lifetime)
    return Token(value, *schedule) if schedule else Token(value)


def make_label(hostname: str, ns: int) -> str:
    """A token label unique per token: ``ddnsd-<host>-<nanoseconds>``.

    TransIP refuses a label already used by an active token, so the nanosecond clock
    (``time.time_ns()`` at the caller) keeps two processes on one host apart.
    """
    host = re.sub(r"[^A-Za-z0-9.-]", "-", hostname.split(".")[0])[:40] or "host"
    return f"ddnsd-{host}-{ns}"
