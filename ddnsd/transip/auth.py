"""Where the client's bearer token comes from (``TokenSource``), in two kinds.

TransIP (seed: Introduction > Authentication) hands out JSON Web Tokens from
``POST /v6/auth``. The request body is JSON, and its exact bytes are signed with the
account's RSA key (``keys.sign``) into the ``Signature`` header. Every other call
carries ``Authorization: Bearer <token>``.

* ``KeyAuth`` signs its own ``/auth`` requests (through the same ``Transport`` as the
  API calls), renews the token once 80 % of its lifetime has passed (``tokens``), and
  can share the token between processes through the state directory (``token_cache``):
  certbot runs a fresh hook process for every challenge.
* ``StaticTokenAuth`` reads a token generated in the control panel from a file; it cannot
  renew, so a refused token fails loudly.

Neither the key nor a token ever appears in a log line or an exception.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ddnsd import durations
from ddnsd.errors import ConfigError, TransipAuthError, TransipError, TransipUnavailable
from ddnsd.transip.keys import key_id, parse_key, read_key_file, sign
from ddnsd.transip.token_cache import TokenCache
from ddnsd.transip.tokens import (
    Token,
    is_token_text,
    jwt_claims,
    make_label,
    number,
    scheduled,
)
from ddnsd.transip.transport import TransipAnswer, Transport
from ddnsd.transip.wire import auth_refusal, decode_json, dumps, make_error, token_from_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

log = logging.getLogger(__name__)

_AUTH_PATH = "/auth"


class TokenSource(Protocol):
    """Where the client gets its bearer token from."""

    def token(self, kind: str) -> str:
        """A token that is valid now (fetching or renewing one if needed: that ``/auth``
        request is charged to ``kind``, the work that needs the token)."""
        ...

    def invalidate(self, token: str) -> None:
        """TransIP said ``token`` expired or was revoked: never hand it out again."""
        ...

    def expires_at(self) -> float | None:
        """When the current token expires (Unix time), if known."""
        ...

    def problem(self) -> str | None:
        """Why there is no usable token (the last attempt to get one failed and nothing
        usable is left), as one sentence; None while there is one or none was needed."""
        ...


class KeyAuth:
    """Tokens from ``POST /auth``, signed with the account's private key.

    Thread-safe: one lock covers reading, renewing and dropping the token, so
    concurrent callers share one ``/auth`` request.

    ``global_key`` defaults to true. A token from a non-global key only works from IP
    addresses whitelisted in the control panel, and the whole point of ddnsd is that this
    machine's IP address changes: a whitelisted key would lock ddnsd out right after the
    change it has to publish.

    ``cache_dir`` (the state directory) keeps the token in a ``TokenCache``, so
    short-lived hook processes reuse one token instead of creating one per run.
    ``clock`` is the wall clock the token's schedule is kept on.
    """

    def __init__(
        self,
        transport: Transport,
        login: str,
        private_key_path: str | os.PathLike[str],
        *,
        insecure_key_permissions: bool = False,
        global_key: bool = True,
        read_only: bool = False,
        expiration_time: str = "1 hour",
        cache_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not login:
            raise ConfigError("login is empty; set it to your TransIP account name")
        self.transport = transport
        self.login = login
        self.global_key = global_key
        self.read_only = read_only
        self.expiration_time = expiration_time
        self.key_file = Path(private_key_path)
        self._pem = read_key_file(self.key_file, insecure=insecure_key_permissions)
        self._key: rsa.RSAPrivateKey | None = None  # parsed when a token must be signed
        self.fingerprint = key_id(self._pem)
        self._clock = clock
        self._lock = threading.Lock()
        self._current: Token | None = None
        self._problem: str | None = None
        self._cache: TokenCache | None = None
        if cache_dir is not None:
            self._cache = TokenCache(
                cache_dir,
                login=login,
                api_url=self.api_url,
                fingerprint=self.fingerprint,
                read_only=read_only,
                global_key=global_key,
            )

    def __repr__(self) -> str:
        return f"KeyAuth(login={self.login!r}, api_url={self.api_url!r})"

    @property
    def api_url(self) -> str:
        return self.transport.api_url

    @property
    def cache_file(self) -> Path | None:
        """The token cache file (``None`` without ``cache_dir``)."""
        return self._cache.path if self._cache is not None else None

    # -- TokenSource

    def token(self, kind: str) -> str:
        with self._lock:
            now = self._clock()
            current = self._current
            if current is not None and current.fresh(now):
                return current.value
            if current is not None:
                log.info("renewing the TransIP access token for login '%s'", self.login)
            cached = self._cache.load(now) if self._cache is not None else None
            if cached is not None:
                self._current, self._problem = cached, None
                log.debug("reusing the cached TransIP access token for login '%s'", self.login)
                return cached.value
            try:
                token = self._fetch(kind)
                self._problem = None
                return token
            except TransipError as exc:
                # renewing early leaves 20 % of the lifetime for exactly this case
                expires = current.expires_at if current is not None else None
                if current is None or expires is None or now >= expires:
                    self._problem = str(exc)
                    raise
                log.warning(
                    "could not renew the TransIP access token (%s); using the current one "
                    "until it expires in %.0f s",
                    exc,
                    expires - now,
                )
                return current.value

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._current is not None and secrets.compare_digest(self._current.value, token):
                self._current = None
                log.info(
                    "dropped the TransIP access token for login '%s'; the next request "
                    "gets a new one",
                    self.login,
                )
            if self._cache is not None:
                self._cache.discard(token)

    def expires_at(self) -> float | None:
        with self._lock:
            return self._current.expires_at if self._current is not None else None

    def problem(self) -> str | None:
        with self._lock:
            return self._problem

    # -- /auth

    def signing_key(self) -> rsa.RSAPrivateKey:
        """The parsed key (ConfigError when the file holds no usable RSA key)."""
        if self._key is None:
            self._key = parse_key(self._pem, self.key_file)
        return self._key

    def auth_body(self) -> dict[str, Any]:
        """A fresh ``/auth`` request body (new nonce and label every time)."""
        return {
            "login": self.login,
            "nonce": secrets.token_hex(16),  # 32 characters, TransIP allows 6-32
            "read_only": self.read_only,
            "expiration_time": self.expiration_time,
            "label": make_label(socket.gethostname(), time.time_ns()),
            "global_key": self.global_key,
        }

    def _fetch(self, kind: str) -> str:
        body = dumps(self.auth_body())  # serialized once: these bytes are signed AND sent
        answer = self.transport.send(
            "POST",
            _AUTH_PATH,
            kind=kind,
            body=body,
            headers={"Signature": sign(body, self.signing_key())},
        )
        if answer.status == 0:
            raise TransipUnavailable(
                0,
                f"no access token for login '{self.login}': {answer.reason}",
                method="POST",
                path=_AUTH_PATH,
                hint=f"Is api_url ({self.api_url}) reachable?",
            )
        if not answer.ok:
            raise self._refusal(answer)
        data = decode_json(answer.body, method="POST", path=_AUTH_PATH, status=answer.status)
        value = token_from_json(data, status=answer.status)
        received = self._clock()
        token = scheduled(value, received, durations.parse_phrase(self.expiration_time))
        self._current = token
        log.info(
            "obtained a TransIP access token for login '%s'%s",
            self.login,
            f" (valid for {token.expires_at - received:.0f} s)" if token.expires_at else "",
        )
        if self._cache is not None:
            self._cache.store(token, received)
        return value

    def _refusal(self, answer: TransipAnswer) -> TransipError:
        message = answer.message
        lead, hint = auth_refusal(answer.status, message, self.login)
        return make_error(
            answer.status, message, method="POST", path=_AUTH_PATH, hint=hint, lead=lead
        )


class StaticTokenAuth:
    """A token generated in the TransIP control panel, read from ``token_file``.

    The file is read at start (a missing or empty file is a configuration error) and
    again after TransIP refused the token, so a rotated secret is picked up. ddnsd cannot
    renew such a token: once TransIP says it expired or was revoked and the file still
    holds it, every request fails with a message saying what to do.
    """

    def __init__(self, token_file: str | os.PathLike[str]) -> None:
        self.path = Path(token_file)
        self._lock = threading.Lock()
        self._refused: str | None = None
        self._problem: str | None = None
        self._token: str | None = self._read()

    def __repr__(self) -> str:
        return f"StaticTokenAuth({str(self.path)!r})"

    def _read(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(
                f"access token file {self.path} does not exist; write the token generated "
                "in the TransIP control panel to it"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise ConfigError(f"cannot read access token file {self.path}: {why}") from None
        token = text.strip()
        if not token:
            raise ConfigError(
                f"access token file {self.path} is empty; write the token generated in the "
                "TransIP control panel to it"
            )
        if any(ch.isspace() for ch in token):
            raise ConfigError(
                f"access token file {self.path} holds more than one word; it must contain "
                "only the token"
            )
        if not is_token_text(token):  # the token itself never enters the message
            raise ConfigError(
                f"access token file {self.path} holds characters a TransIP token never has "
                "(only printable ASCII); write the token generated in the TransIP control "
                "panel to it"
            )
        return token

    def token(self, kind: str) -> str:
        with self._lock:
            if self._token is None:
                token = self._read()
                if self._refused is not None and secrets.compare_digest(token, self._refused):
                    refusal = TransipAuthError(
                        401,
                        "access token expired or revoked",
                        text=f"TransIP refused the access token in {self.path} as expired or "
                        "revoked, and ddnsd cannot renew a token generated in the control "
                        f"panel: generate a new one and write it to {self.path}",
                    )
                    self._problem = str(refusal)
                    raise refusal
                self._token, self._problem = token, None
            return self._token

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._token is not None and secrets.compare_digest(self._token, token):
                self._refused = token
                self._token = None

    def expires_at(self) -> float | None:
        with self._lock:
            if self._token is None:
                return None
            return number(jwt_claims(self._token).get("exp"))

    def problem(self) -> str | None:
        with self._lock:
            return self._problem
