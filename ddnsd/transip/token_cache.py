"""The access-token cache in the state directory, shared by every ddnsd process.

certbot runs a fresh hook process for every challenge; without a cache each of them would
ask TransIP for a token of its own. The file is named after a hash of login + API URL +
the key's id (``keys.key_id``; + read_only, global_key), so another login, key or API
never picks it up, and holds the token with its schedule. It is written atomically with mode 0600; a
stale file is ignored (and replaced by the next token), an unusable one (:class:`TokenFile`)
or a foreign one is set aside.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
from pathlib import Path
from typing import Annotated, Any

import pydantic

from ddnsd import readback, statedir, statefiles
from ddnsd.transip.tokens import Token, is_token_text

log = logging.getLogger(__name__)


def _header_text(value: str) -> str:
    if not is_token_text(value):
        raise ValueError("not a token that could be sent in a header")
    return value


class TokenFile(pydantic.BaseModel):
    """``transip-token-<hash>.json`` as it may be read back."""

    login: readback.Text
    api_url: readback.Text
    fingerprint: readback.Text
    read_only: readback.Flag
    global_key: readback.Flag
    token: Annotated[readback.Text, pydantic.AfterValidator(_header_text)]
    received_at: readback.Time
    renew_at: readback.Number
    expires_at: readback.Number


ADVICE = "a new token is asked from TransIP; delete the file"


class TokenCache:
    """One cache file for one identity (login, API URL, key, token kind)."""

    def __init__(
        self,
        directory: Path,
        *,
        login: str,
        api_url: str,
        fingerprint: str,
        read_only: bool,
        global_key: bool,
    ) -> None:
        ident = "\n".join([login, api_url, fingerprint, str(read_only), str(global_key)])
        digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]
        self.path = statedir.StateDir(directory).file(statedir.StateDir.TOKEN, digest)
        self._ident: dict[str, Any] = {
            "login": login,
            "api_url": api_url,
            "fingerprint": fingerprint,
            "read_only": read_only,
            "global_key": global_key,
        }

    def __repr__(self) -> str:
        return f"TokenCache({str(self.path)!r})"

    def _read(self) -> TokenFile | None:
        try:
            data = readback.read_back(self.path, TokenFile, advice=ADVICE)
        except OSError as exc:
            log.warning("ignoring the unreadable token cache %s (%s)", self.path, exc.strerror)
            return None
        if data is not None and any(getattr(data, k) != v for k, v in self._ident.items()):
            readback.set_aside(self.path, "it belongs to another login, key or API", ADVICE)
            return None
        return data

    def load(self, now: float) -> Token | None:
        """The cached token for this identity if it is not due for renewal at ``now``."""
        data = self._read()
        if data is None or now >= data.renew_at:
            return None
        return Token(data.token, data.renew_at, data.expires_at)

    def store(self, token: Token, received_at: float) -> None:
        """Write ``token`` (atomically, mode 0600); a token of unknown lifetime is not kept.

        Another process could not tell when to renew it. A failed write is logged and
        otherwise ignored: the cache only saves requests.
        """
        if token.renew_at is None or token.expires_at is None:
            return
        record = dict(self._ident)
        record.update(
            token=token.value,
            received_at=received_at,
            renew_at=token.renew_at,
            expires_at=token.expires_at,
        )
        try:
            statefiles.make_dir(self.path.parent)
            statefiles.write_atomic(self.path, json.dumps(record), durable=True)
        except OSError as exc:
            log.warning(
                "could not write the token cache %s (%s); continuing without it",
                self.path,
                exc.strerror,
            )

    def discard(self, value: str) -> None:
        """Remove the file if it holds the token ``value`` (TransIP refused that token)."""
        cached = self._read()
        if cached is None or not is_token_text(value):
            return  # compare_digest takes ASCII only
        if secrets.compare_digest(cached.token, value):
            with contextlib.suppress(OSError):
                self.path.unlink()
