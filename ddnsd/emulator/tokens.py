"""Access tokens of the emulated TransIP API: signed ``POST /v6/auth`` and RS256 JWTs.

Status codes and texts the emulator answers on ``POST /v6/auth`` (the seed documents only
the happy path, so these are the emulator's own, kept stable for tests):

* 401 ``Signature header is missing``, ``Invalid API signature``, ``Unknown login 'x'``,
  ``Nonce 'x' has already been used`` (a replayed request is an authentication failure);
* 406 ``Missing required parameter 'nonce'``, ``Nonce must be between 6 and 32 characters``,
  ``Invalid expiration_time 'x': ...``, ``An active access token with label 'x' already exists``.

Token checks on every other ``/v6`` request answer 401 with ``No access token provided ...``,
``Your access token is invalid ...``, ``Your access token has expired ...`` or
``Your access token has been revoked ...``.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ddnsd import durations

#: The seed's demo token (section "Demo token"): the demo user in test mode.
DEMO_TOKEN = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImp0aSI6ImN3MiFSbDU2eDNoUnkjelM4YmdOIn0."
    "eyJpc3MiOiJhcGkudHJhbnNpcC5ubCIsImF1ZCI6ImFwaS50cmFuc2lwLm5sIiwianRpIjoiY3cyIVJsNTZ4M2hSeSN6"
    "UzhiZ04iLCJpYXQiOjE1ODIyMDE1NTAsIm5iZiI6MTU4MjIwMTU1MCwiZXhwIjoyMTE4NzQ1NTUwLCJjaWQiOiI2MDQ0"
    "OSIsInJvIjpmYWxzZSwiZ2siOmZhbHNlLCJrdiI6dHJ1ZX0."
    "fYBWV4O5WPXxGuWG-vcrFWqmRHBm9yp0PHiYh_oAWxWxCaZX2Rf6WJfc13AxEeZ67-lY0TA2kSaOCp0PggBb_MGj73t4"
    "cH8gdwDJzANVxkiPL1Saqiw2NgZ3IHASJnisUWNnZp8HnrhLLe5ficvb1D9WOUOItmFC2ZgfGObNhlL2y-AMNLT4X7oNg"
    "rNTGm-mespo0jD_qH9dK5_evSzS3K8o03gu6p19jxfsnIh8TIVRvNdluYC2wo4qDl5EW5BEZ8OSuJ121ncOT1oRpzXB0c"
    "VZ9e5_UVAEr9X3f26_Eomg52-PjrgcRJ_jPIUYbrlo06KjjX2h0fzMr21ZE023Gw"
)
DEMO_LOGIN = "demo"
ISSUER = "api.transip.nl"
DEFAULT_EXPIRATION = "30 minutes"  # TransIP: the default expiration time
MAX_LIFETIME = durations.MONTH  # "a maximum of 1 month"

_JTI_ALPHABET = string.ascii_letters + string.digits + "!#"


_KEY_LOCK = threading.Lock()
_SIGNING_KEY: list[rsa.RSAPrivateKey] = []


def _signing_key() -> rsa.RSAPrivateKey:
    """The JWT signing key: generated once per process at the first start (never stored).

    Emulators in one process share it (a token still only works where its ``jti`` was issued);
    one key per process keeps test set-up fast.
    """
    with _KEY_LOCK:
        if not _SIGNING_KEY:
            _SIGNING_KEY.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _SIGNING_KEY[0]


class AuthFailure(Exception):
    """A refused auth request or token: HTTP ``status`` and TransIP-like ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_expiration(phrase: str) -> int:
    """``"1 hour"`` → 3600. Raises ValueError outside 1 second .. 1 month or for other text."""
    seconds = durations.parse_phrase(phrase)
    if seconds is None or not 0 < seconds <= MAX_LIFETIME:
        raise ValueError(phrase)
    return seconds


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenInfo:
    """What the emulator remembers of one issued token (never the token string itself)."""

    jti: str
    login: str
    label: str
    read_only: bool
    global_key: bool
    issued_at: int
    expires_at: int
    revoked: bool = False
    expired: bool = False  # forced by POST /_emulator/expire

    def active(self, now: float) -> bool:
        return not self.revoked and not self.expired and now < self.expires_at

    def public(self, now: float) -> dict[str, Any]:
        return {
            "jti": self.jti,
            "login": self.login,
            "label": self.label,
            "read_only": self.read_only,
            "global_key": self.global_key,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "revoked": self.revoked,
            "expired": self.expired or now >= self.expires_at,
        }


@dataclass(frozen=True)
class Principal:
    """Who a request runs as."""

    login: str
    read_only: bool
    test_mode: bool  # the demo token forces test mode
    jti: str


@dataclass
class TokenAuthority:
    """Issues and checks tokens for the registered ``users`` (login → public key PEM)."""

    users: dict[str, bytes]
    _keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    _tokens: dict[str, TokenInfo] = field(default_factory=dict)
    _nonces: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._signing_key = _signing_key()
        for login, pem in self.users.items():
            key = serialization.load_pem_public_key(pem)
            if not isinstance(key, rsa.RSAPublicKey):
                raise ValueError(f"public key of login {login!r} is not an RSA key")
            self._keys[login] = key
        self._cids = {login: str(60000 + i) for i, login in enumerate(sorted(self.users))}

    # -- POST /v6/auth --------------------------------------------------------------
    def issue(self, raw_body: bytes, signature: str | None) -> str:
        """Check a signed auth request and return a fresh JWT, or raise AuthFailure."""
        try:
            body = json.loads(raw_body)
        except ValueError as exc:
            raise AuthFailure(422, f"The request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise AuthFailure(422, "The request body must be a JSON object")
        for name in ("login", "nonce"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise AuthFailure(406, f"Missing required parameter '{name}'")
        login: str = body["login"]
        nonce: str = body["nonce"]
        if not 6 <= len(nonce) <= 32:
            raise AuthFailure(406, "Nonce must be between 6 and 32 characters")
        key = self._keys.get(login)
        if key is None:
            raise AuthFailure(401, f"Unknown login '{login}'")
        if not signature:
            raise AuthFailure(401, "Signature header is missing")
        try:
            key.verify(
                base64.b64decode(signature.strip(), validate=True),
                raw_body,
                padding.PKCS1v15(),
                hashes.SHA512(),
            )
        except (InvalidSignature, ValueError):
            raise AuthFailure(401, "Invalid API signature") from None
        phrase = body.get("expiration_time", DEFAULT_EXPIRATION)
        try:
            lifetime = parse_expiration(phrase) if isinstance(phrase, str) else -1
        except ValueError:
            lifetime = -1
        if lifetime <= 0:
            raise AuthFailure(
                406,
                f"Invalid expiration_time '{phrase}': use e.g. '3600 seconds', '1 hour' or "
                "'1 week' (at most 1 month)",
            )
        read_only = bool(body.get("read_only", False))
        global_key = bool(body.get("global_key", False))
        label = body.get("label")
        now = int(time.time())
        with self._lock:
            if (login, nonce) in self._nonces:
                raise AuthFailure(401, f"Nonce '{nonce}' has already been used")
            if not isinstance(label, str) or not label:
                label = f"api.{now}.{secrets.token_hex(3)}"
            for info in self._tokens.values():
                if info.login == login and info.label == label and info.active(now):
                    raise AuthFailure(
                        406, f"An active access token with label '{label}' already exists"
                    )
            self._nonces.add((login, nonce))
            jti = "".join(secrets.choice(_JTI_ALPHABET) for _ in range(20))
            info = TokenInfo(jti, login, label, read_only, global_key, now, now + lifetime)
            self._tokens[jti] = info
        return self._sign(info)

    def _sign(self, info: TokenInfo) -> str:
        header = {"typ": "JWT", "alg": "RS256", "jti": info.jti}
        payload = {
            "iss": ISSUER,
            "aud": ISSUER,
            "jti": info.jti,
            "iat": info.issued_at,
            "nbf": info.issued_at,
            "exp": info.expires_at,
            "cid": self._cids.get(info.login, "60000"),
            "ro": info.read_only,
            "gk": info.global_key,
            "kv": True,
        }
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(payload, separators=(",", ":")).encode())
        )
        sig = self._signing_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)

    # -- Authorization: Bearer ... --------------------------------------------------
    def check(self, authorization: str | None) -> Principal:
        """The principal for an ``Authorization`` header, or raise AuthFailure(401)."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthFailure(401, "No access token provided: send 'Authorization: Bearer <token>'")
        token = authorization[len("Bearer ") :].strip()
        if secrets.compare_digest(token.encode(), DEMO_TOKEN.encode()):  # str: ASCII only
            return Principal(DEMO_LOGIN, read_only=False, test_mode=True, jti="demo")
        invalid = AuthFailure(401, "Your access token is invalid; request a new one")
        parts = token.split(".")
        if len(parts) != 3:
            raise invalid
        try:
            self._signing_key.public_key().verify(
                b64url_decode(parts[2]),
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            payload = json.loads(b64url_decode(parts[1]))
            jti = str(payload["jti"])
        except (InvalidSignature, ValueError, KeyError, TypeError):
            raise invalid from None
        now = time.time()
        with self._lock:
            info = self._tokens.get(jti)
            if info is None:
                raise invalid
            if info.revoked:
                raise AuthFailure(401, "Your access token has been revoked; request a new one")
            if info.expired or now >= info.expires_at:
                raise AuthFailure(401, "Your access token has expired; request a new one")
            return Principal(info.login, info.read_only, test_mode=False, jti=jti)

    # -- control ----------------------------------------------------------------------
    def revoke(self, jti: str | None = None, label: str | None = None, all_: bool = False) -> int:
        with self._lock:
            hit = [
                t
                for t in self._tokens.values()
                if all_ or t.jti == jti or (label is not None and t.label == label)
            ]
            for t in hit:
                t.revoked = True
            return len(hit)

    def expire(self, jti: str | None = None) -> int:
        with self._lock:
            hit = [t for t in self._tokens.values() if jti is None or t.jti == jti]
            for t in hit:
                t.expired = True
            return len(hit)

    def tokens(self) -> list[dict[str, Any]]:
        now = time.time()
        with self._lock:
            return [t.public(now) for t in self._tokens.values()]
