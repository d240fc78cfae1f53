"""The access-token cache in the state directory, shared by every ddnsd process.

certbot runs a fresh hook process for every challenge; without a cache each of them would
ask TransIP for a token of its own. The file is named after a hash of login + API URL +
the key's id (``keys.key_id``; + read_only, global_key), so another login, key or API
never picks it up, and holds the token with its schedule. It is written atomically with mode 0600; a
corrupt, foreign or stale file is ignored (and replaced by the next token).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
from pathlib import Path
from typing import Any

from ddnsd import statefiles
from ddnsd.transip.tokens import Token, is_token_text, number

log = logging.getLogger(__name__)


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
        self.path = Path(directory) / f"transip-token-{digest}.json"
        self._ident: dict[str, Any] = {
            "login": login,
            "api_url": api_url,
            "fingerprint": fingerprint,
            "read_only": read_only,
            "global_key": global_key,
        }

    def __repr__(self) -> str:
        return f"TokenCache({str(self.path)!r})"

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("ignoring the unreadable token cache %s", self.path)
            return None
        return data if isinstance(data, dict) else None

    def load(self, now: float) -> Token | None:
        """The cached token for this identity if it is not due for renewal at ``now``."""
        data = self._read()
        if data is None or any(data.get(k) != v for k, v in self._ident.items()):
            return None
        value = data.get("token")
        renew_at = number(data.get("renew_at"))
        expires_at = number(data.get("expires_at"))
        if (
            not isinstance(value, str)
            or not is_token_text(value)  # could not be sent in a header
            or renew_at is None
            or expires_at is None
        ):
            log.warning("ignoring the malformed token cache %s", self.path)
            return None
        if now >= renew_at:
            return None
        return Token(value, renew_at, expires_at)

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
        held = cached.get("token") if cached is not None else None
        if not isinstance(held, str) or not is_token_text(held) or not is_token_text(value):
            return  # compare_digest takes ASCII only; such a file is never loaded anyway
        if secrets.compare_digest(held, value):
            with contextlib.suppress(OSError):
                self.path.unlink()
