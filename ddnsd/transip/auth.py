"""TransIP authentication: private key loading, request signing, access tokens.

TransIP (seed: Introduction > Authentication) hands out JSON Web Tokens from
``POST /v6/auth``. The request body is JSON, and its exact bytes are signed with the
account's RSA key (PKCS#1 v1.5, SHA-512) into the ``Signature`` header. Every other call
carries ``Authorization: Bearer <token>``.

Two token sources implement ``TokenSource``:

* ``KeyAuth`` signs its own ``/auth`` requests, renews the token once 80 % of its
  lifetime has passed, and can share the token between processes through a cache file
  (certbot runs a fresh hook process for every challenge).
* ``StaticTokenAuth`` reads a token generated in the control panel from a file; it cannot
  renew, so a refused token fails loudly.

Neither the key nor a token ever appears in a log line or an exception.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ddnsd import durations
from ddnsd.errors import ConfigError, TransipAuthError, TransipError, TransipUnavailable
from ddnsd.transip.wire import (
    USER_AGENT,
    RateLimit,
    decode_json,
    describe_failure,
    dumps,
    error_class,
    error_message,
    token_from_json,
)

log = logging.getLogger(__name__)

Observer = Callable[[str, str, int, float], None]

#: Renew a token once this fraction of its lifetime has passed.
RENEW_FRACTION = 0.8

_AUTH_PATH = "/auth"


class TokenSource(Protocol):
    """Where the client gets its bearer token from."""

    def token(self) -> str:
        """A token that is valid now (fetching or renewing one if needed)."""
        ...

    def invalidate(self, token: str) -> None:
        """TransIP said ``token`` expired or was revoked: never hand it out again."""
        ...

    def expires_at(self) -> float | None:
        """When the current token expires (Unix time), if known."""
        ...


# ----------------------------------------------------------------------------- keys

_KEY_KINDS = {
    "ECPrivateKey": "an EC",
    "EllipticCurvePrivateKey": "an EC",
    "Ed25519PrivateKey": "an Ed25519",
    "Ed448PrivateKey": "an Ed448",
    "DSAPrivateKey": "a DSA",
    "X25519PrivateKey": "an X25519",
    "X448PrivateKey": "an X448",
}


def load_private_key(path: str | os.PathLike[str], insecure: bool = False) -> rsa.RSAPrivateKey:
    """Load the account's RSA private key from a PEM file.

    Accepts PKCS#8 (``BEGIN PRIVATE KEY``, what the TransIP control panel hands out) and
    PKCS#1 (``BEGIN RSA PRIVATE KEY``), with or without a UTF-8 byte-order mark and with
    LF or CRLF line ends (a key pasted on Windows).

    Like ssh, a key file that group or others may access (any of the ``0o077`` bits) is
    refused unless ``insecure`` is true (the ``insecure_key_permissions`` setting): that
    key can change every DNS record of the account. Errors name the file, never its
    content.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"private key file {p} does not exist; set private_key_file to the key "
            "generated in the TransIP control panel"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read private key file {p}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"private key file {p} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077 and not insecure:
        raise ConfigError(
            f"private key file {p} is accessible by group or others (mode {mode:04o}): "
            f"run 'chmod 600 {p}', or set insecure_key_permissions = true to accept it"
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read private key file {p}: {exc.strerror}") from None

    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    data = data.replace(b"\r\n", b"\n").strip() + b"\n"

    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        raise ConfigError(
            f"private key file {p} is an OpenSSH key, but TransIP needs the PEM key from "
            "the control panel (a PEM file whose first line says BEGIN PRIVATE KEY)"
        )
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"ENCRYPTED" in data[:200]:
        raise ConfigError(
            f"private key file {p} is protected by a passphrase; ddnsd needs the key "
            "without one (openssl pkey -in KEY -out NEWKEY)"
        )
    if not re.search(rb"-----BEGIN (RSA )?PRIVATE KEY-----", data):
        raise ConfigError(
            f"private key file {p} does not contain a PEM private key (expected a "
            "BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY block)"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(
            f"private key file {p} is protected by a passphrase; ddnsd needs the key "
            "without one (openssl pkey -in KEY -out NEWKEY)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            f"private key file {p} could not be parsed as a PEM private key; is it damaged "
            "or cut short?"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = _KEY_KINDS.get(type(key).__name__, "non-RSA")
        raise ConfigError(
            f"private key file {p} holds {kind} key, but TransIP keys are RSA; use the "
            "key generated in the TransIP control panel"
        )
    return key


def sign(body: bytes, key: rsa.RSAPrivateKey) -> str:
    """The ``Signature`` header for ``body``: base64(RSA PKCS#1 v1.5 over SHA-512).

    Same as ``openssl dgst -sha512 -sign KEY BODY | base64 -w0``. ``body`` must be the
    exact bytes that are sent.
    """
    raw = key.sign(body, padding.PKCS1v15(), hashes.SHA512())
    return base64.b64encode(raw).decode("ascii")


def public_key_fingerprint(key: rsa.RSAPrivateKey) -> str:
    """SHA-256 (hex) of the public key's DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


# ----------------------------------------------------------------------------- token math


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


def parse_expiration_time(phrase: str) -> int | None:
    """Seconds in an ``expiration_time`` phrase ("1 hour", "120 minutes", "4 weeks").

    ``None`` when the phrase is not understood (TransIP decides what it accepts; this is
    only the fallback lifetime for a token without an ``exp`` claim).
    """
    return durations.parse_phrase(phrase)


def _number(value: object) -> float | None:
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
    exp = _number(claims.get("exp"))
    iat = _number(claims.get("iat"))
    if iat is None:
        iat = _number(claims.get("nbf"))
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


def make_label(hostname: str | None = None, ns: int | None = None) -> str:
    """A token label unique per token: ``ddnsd-<host>-<nanoseconds>``.

    TransIP refuses a label already used by an active token, so the nanosecond clock
    keeps two processes on one host apart.
    """
    host = hostname if hostname is not None else socket.gethostname()
    host = re.sub(r"[^A-Za-z0-9.-]", "-", host.split(".")[0])[:40] or "host"
    return f"ddnsd-{host}-{ns if ns is not None else time.time_ns()}"


# ----------------------------------------------------------------------------- KeyAuth


class KeyAuth:
    """Tokens from ``POST /auth``, signed with the account's private key.

    Thread-safe: one lock covers reading, renewing and dropping the token, so
    concurrent callers share one ``/auth`` request.

    ``global_key`` defaults to true. A token from a non-global key only works from IP
    addresses whitelisted in the control panel, and the whole point of ddnsd is that this
    machine's IP address changes: a whitelisted key would lock ddnsd out right after the
    change it has to publish.

    ``cache_dir`` (the state directory) keeps the token in a 0600 file named after a hash
    of login + API URL + public-key fingerprint (+ read_only/global_key), so short-lived
    hook processes reuse one token instead of creating one per run. A corrupt or stale
    cache file is ignored.
    """

    def __init__(
        self,
        api_url: str,
        login: str,
        private_key_path: str | os.PathLike[str],
        *,
        insecure_key_permissions: bool = False,
        global_key: bool = True,
        read_only: bool = False,
        expiration_time: str = "1 hour",
        cache_dir: Path | None = None,
        timeout: float = 10.0,
        observer: Observer | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not login:
            raise ConfigError("login is empty; set it to your TransIP account name")
        self.api_url = api_url.rstrip("/")
        self.login = login
        self.global_key = global_key
        self.read_only = read_only
        self.expiration_time = expiration_time
        self.timeout = timeout
        self.observer = observer
        self.rate_limit = RateLimit()
        self.request_count = 0
        self._key = load_private_key(private_key_path, insecure=insecure_key_permissions)
        self.fingerprint = public_key_fingerprint(self._key)
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at: float | None = None
        self._expires_at: float | None = None
        self._clock: Callable[[], float] = time.time
        self.cache_file: Path | None = None
        if cache_dir is not None:
            ident = "\n".join(
                [self.login, self.api_url, self.fingerprint, str(read_only), str(global_key)]
            )
            digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]
            self.cache_file = Path(cache_dir) / f"transip-token-{digest}.json"
        self._ident = {
            "login": self.login,
            "api_url": self.api_url,
            "fingerprint": self.fingerprint,
            "read_only": read_only,
            "global_key": global_key,
        }

    def __repr__(self) -> str:
        return f"KeyAuth(login={self.login!r}, api_url={self.api_url!r})"

    # -- TokenSource

    def token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is not None and (self._renew_at is None or now < self._renew_at):
                return self._token
            if self._token is not None:
                log.info("renewing the TransIP access token for login '%s'", self.login)
            if self._load_cache(now):
                assert self._token is not None
                return self._token
            try:
                return self._fetch()
            except TransipError as exc:
                # renewing early leaves 20 % of the lifetime for exactly this case
                if self._token is None or self._expires_at is None or now >= self._expires_at:
                    raise
                log.warning(
                    "could not renew the TransIP access token (%s); using the current one "
                    "until it expires in %.0f s",
                    exc,
                    self._expires_at - now,
                )
                return self._token

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._token is not None and secrets.compare_digest(self._token, token):
                self._token = None
                self._renew_at = None
                self._expires_at = None
                log.info(
                    "dropped the TransIP access token for login '%s'; the next request "
                    "gets a new one",
                    self.login,
                )
            cached = self._read_cache_file()
            if cached is not None and secrets.compare_digest(str(cached.get("token")), token):
                self._remove_cache()

    def expires_at(self) -> float | None:
        with self._lock:
            return self._expires_at if self._token is not None else None

    # -- /auth

    def auth_body(self) -> dict[str, Any]:
        """A fresh ``/auth`` request body (new nonce and label every time)."""
        return {
            "login": self.login,
            "nonce": secrets.token_hex(16),  # 32 characters, TransIP allows 6-32
            "read_only": self.read_only,
            "expiration_time": self.expiration_time,
            "label": make_label(),
            "global_key": self.global_key,
        }

    def _observe(self, status: int, seconds: float) -> None:
        if self.observer is None:
            return
        try:
            self.observer("POST", _AUTH_PATH, status, seconds)
        except Exception:  # a metrics bug must not break authentication
            log.exception("the request observer failed")

    def _fetch(self) -> str:
        body = dumps(self.auth_body())  # serialized once: these bytes are signed AND sent
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Signature": sign(body, self._key),
        }
        url = self.api_url + _AUTH_PATH
        self.request_count += 1
        started = time.monotonic()
        try:
            response = self._session.post(url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            self._observe(0, time.monotonic() - started)
            reason, _ = describe_failure(exc, self.timeout)
            raise TransipUnavailable(
                0,
                f"no access token for login '{self.login}': {reason}",
                method="POST",
                path=_AUTH_PATH,
                hint=f"Is api_url ({self.api_url}) reachable?",
            ) from None
        self._observe(response.status_code, time.monotonic() - started)
        self.rate_limit.update(response.headers)
        if not 200 <= response.status_code < 300:
            raise self._refusal(response.status_code, response.content, response.reason or "")
        data = decode_json(
            response.content, method="POST", path=_AUTH_PATH, status=response.status_code
        )
        token = token_from_json(data, status=response.status_code)
        received = self._clock()
        schedule = token_schedule(
            jwt_claims(token), received, parse_expiration_time(self.expiration_time)
        )
        self._token = token
        self._renew_at, self._expires_at = schedule if schedule else (None, None)
        log.info(
            "obtained a TransIP access token for login '%s'%s",
            self.login,
            f" (valid for {self._expires_at - received:.0f} s)" if self._expires_at else "",
        )
        self._store_cache(received)
        return token

    def _refusal(self, status: int, body: bytes, reason: str) -> TransipError:
        message = error_message(status, body, reason)
        lower = message.lower()
        lead = f"TransIP refused the access-token request for login '{self.login}'"
        if "signature" in lower:
            lead = f"TransIP refused the key for login '{self.login}'"
            hint = "Is private_key_file the key generated for this login?"
        elif "whitelist" in lower:
            hint = (
                "Set global_key = true, or whitelist this machine's IP address in the "
                "TransIP control panel."
            )
        elif status == 401:
            lead = f"TransIP refused the key for login '{self.login}'"
            hint = "Check login and private_key_file: both must belong to the same TransIP account."
        elif status == 429:
            hint = "The rate limit of the API is used up; try again after the window resets."
        elif status >= 500:
            lead = f"TransIP failed to issue an access token for login '{self.login}'"
            hint = "Try again later."
        else:
            hint = ""
        err = error_class(status)(status, message, method="POST", path=_AUTH_PATH, hint=hint)
        err.args = (f"{lead}: {status} {message}" + (f". {hint}" if hint else ""),)
        return err

    # -- cache

    def _read_cache_file(self) -> dict[str, Any] | None:
        if self.cache_file is None:
            return None
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("ignoring the unreadable token cache %s", self.cache_file)
            return None
        return data if isinstance(data, dict) else None

    def _load_cache(self, now: float) -> bool:
        data = self._read_cache_file()
        if data is None:
            return False
        if any(data.get(k) != v for k, v in self._ident.items()):
            return False
        token = data.get("token")
        renew_at = _number(data.get("renew_at"))
        expires_at = _number(data.get("expires_at"))
        if not isinstance(token, str) or not token or renew_at is None or expires_at is None:
            log.warning("ignoring the malformed token cache %s", self.cache_file)
            return False
        if now >= renew_at:
            return False
        self._token, self._renew_at, self._expires_at = token, renew_at, expires_at
        log.debug("reusing the cached TransIP access token for login '%s'", self.login)
        return True

    def _store_cache(self, received: float) -> None:
        if self.cache_file is None or self._token is None:
            return
        if self._renew_at is None or self._expires_at is None:
            return  # unknown lifetime: another process could not tell when to renew
        record = dict(self._ident)
        record.update(
            token=self._token,
            received_at=received,
            renew_at=self._renew_at,
            expires_at=self._expires_at,
        )
        directory = self.cache_file.parent
        tmp: str | None = None
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".transip-token-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), 0o600)
                json.dump(record, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.cache_file)
            tmp = None
        except OSError as exc:
            log.warning(
                "could not write the token cache %s (%s); continuing without it",
                self.cache_file,
                exc.strerror,
            )
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _remove_cache(self) -> None:
        if self.cache_file is not None:
            with contextlib.suppress(OSError):
                self.cache_file.unlink()


# ----------------------------------------------------------------------------- static token


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
        return token

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                token = self._read()
                if self._refused is not None and secrets.compare_digest(token, self._refused):
                    err = TransipAuthError(401, "access token expired or revoked")
                    err.args = (
                        f"TransIP refused the access token in {self.path} as expired or "
                        "revoked, and ddnsd cannot renew a token generated in the control "
                        f"panel: generate a new one and write it to {self.path}",
                    )
                    raise err
                self._token = token
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
            return _number(jwt_claims(self._token).get("exp"))
