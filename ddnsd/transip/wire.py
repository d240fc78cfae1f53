"""What goes over the wire: JSON ⇄ model, response headers, and error bodies.

Everything here is pure (no sockets, no clock): the transport, the token sources and
the client feed it status codes, headers and decoded JSON and get model objects or
exceptions back. TransIP's answers are checked for shape, so a surprise (a proxy's HTML
page, a changed field) becomes one clear error instead of a ``KeyError`` deep in the
reconciler. Every match on TransIP's error texts lives here, so a changed text is fixed
in one place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ddnsd.errors import (
    TransipAuthError,
    TransipConflict,
    TransipError,
    TransipForbidden,
    TransipInvalid,
    TransipNotAcceptable,
    TransipNotFound,
    TransipRateLimited,
    TransipServerError,
    TransipUnavailable,
)
from ddnsd.model import DnsEntry
from ddnsd.transip.tokens import is_token_text

_ERROR_CLASSES: dict[int, type[TransipError]] = {
    0: TransipUnavailable,
    401: TransipAuthError,
    403: TransipForbidden,
    404: TransipNotFound,
    406: TransipNotAcceptable,
    409: TransipConflict,
    422: TransipInvalid,
    429: TransipRateLimited,
}


class TransipBadResponse(TransipError):
    """TransIP answered, but not in the shape its documentation promises."""


@dataclass
class RateLimit:
    """The last ``X-Rate-Limit-*`` headers seen (``None`` until a response carried them).

    ``reset`` is a Unix timestamp: when the oldest request leaves TransIP's sliding
    15-minute window.
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None

    def update(self, headers: Mapping[str, str]) -> None:
        """Take over whichever of the three headers ``headers`` carries (others are kept)."""
        limit = _header_number(headers, "X-Rate-Limit-Limit")
        remaining = _header_number(headers, "X-Rate-Limit-Remaining")
        reset = _header_number(headers, "X-Rate-Limit-Reset")
        if limit is not None:
            self.limit = int(limit)
        if remaining is not None:
            self.remaining = int(remaining)
        if reset is not None:
            self.reset = reset


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    """The header as a finite number; ``None`` when it is missing or anything else
    ("inf" and "nan" parse as floats but are no count or time)."""
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def dumps(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent as a request body (compact JSON, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_message(status: int, body: bytes, reason: str = "") -> str:
    """TransIP's ``{"error": "..."}`` text, or a short stand-in when the body has none.

    Never returns a whole HTML page: a proxy's error page becomes its reason phrase.
    """
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        data = None
    if isinstance(data, dict):
        text = data.get("error")
        if isinstance(text, str) and text.strip():
            return text.strip()
    if reason:
        return reason
    return f"HTTP {status} without an error message"


def error_class(status: int) -> type[TransipError]:
    """The ``TransipError`` subclass for an HTTP status."""
    if status >= 500:
        return TransipServerError
    return _ERROR_CLASSES.get(status, TransipError)


def make_error(
    status: int, message: str, *, method: str = "", path: str = "", hint: str = "", lead: str = ""
) -> TransipError:
    """Build the right ``TransipError`` subclass for ``status``."""
    return error_class(status)(status, message, method=method, path=path, hint=hint, lead=lead)


def is_being_saved(message: str) -> bool:
    """Whether a 409 text is TransIP's transient "DNS Entries are currently being saved"."""
    return "being saved" in message.lower()


def is_entry_not_found(message: str) -> bool:
    """Whether a DELETE 404 text is TransIP's "DNS Entry not found" (not an unknown domain)."""
    return "dns entry not found" in message.lower()


#: PATCH 406 texts that mean "the zone is not what the plan assumed".
_PATCH_MISMATCH = ("could not find match", "multiple matches")


def is_patch_mismatch(message: str) -> bool:
    """Whether a PATCH 406 text says no entry, or more than one, matched name + expire + type."""
    text = message.lower()
    return any(t in text for t in _PATCH_MISMATCH)


def auth_refusal(status: int, message: str, login: str) -> tuple[str, str]:
    """``(lead, hint)`` of the sentence for a refused ``POST /auth`` of ``login``.

    A bad signature or another 401 means the key does not belong to the login; a
    whitelist refusal means a non-global key used from an address not whitelisted.
    """
    lower = message.lower()
    lead = f"TransIP refused the access-token request for login '{login}'"
    key_refused = f"TransIP refused the key for login '{login}'"
    if "signature" in lower:
        return key_refused, "Is private_key_file the key generated for this login?"
    if "whitelist" in lower:
        return lead, (
            "Set global_key = true, or whitelist this machine's IP address in the "
            "TransIP control panel."
        )
    if status == 401:
        return key_refused, (
            "Check login and private_key_file: both must belong to the same TransIP account."
        )
    if status == 429:
        return lead, "The rate limit of the API is used up; try again after the window resets."
    if status >= 500:
        return f"TransIP failed to issue an access token for login '{login}'", "Try again later."
    return lead, ""


# ----------------------------------------------------------------------------- answers


def _bad(method: str, path: str, status: int, what: str) -> TransipBadResponse:
    return TransipBadResponse(
        status,
        f"unexpected answer: {what}",
        method=method,
        path=path,
        hint="Is api_url the TransIP v6 API (e.g. https://api.transip.nl/v6)?",
    )


def decode_json(body: bytes, *, method: str, path: str, status: int) -> dict[str, Any]:
    """A success body as a JSON object, or ``TransipBadResponse``."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad(method, path, status, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise _bad(method, path, status, f"expected a JSON object, got {type(data).__name__}")
    return data


def entry_to_json(entry: DnsEntry) -> dict[str, Any]:
    """``DnsEntry`` → TransIP's ``dnsEntry`` object."""
    return {
        "name": entry.name,
        "expire": entry.expire,
        "type": entry.type,
        "content": entry.content,
    }


def entry_from_json(
    item: object, *, where: str = "dnsEntry", method: str = "", path: str = "", status: int = 200
) -> DnsEntry:
    """One TransIP ``dnsEntry`` object → ``DnsEntry`` (checked field by field)."""
    if not isinstance(item, dict):
        raise _bad(method, path, status, f"{where} is not an object")
    fields: dict[str, Any] = {}
    for key in ("name", "type", "content"):
        value = item.get(key)
        if not isinstance(value, str):
            raise _bad(method, path, status, f"{where}.{key} is missing or not a string")
        fields[key] = value
    expire = item.get("expire")
    if isinstance(expire, bool) or not isinstance(expire, int | str):
        raise _bad(method, path, status, f"{where}.expire is missing or not a number")
    try:
        fields["expire"] = int(expire)
    except ValueError:
        raise _bad(method, path, status, f"{where}.expire is not a number") from None
    return DnsEntry(
        name=fields["name"],
        expire=fields["expire"],
        type=fields["type"].upper(),
        content=fields["content"],
    )


def entries_from_json(
    data: Mapping[str, Any], *, method: str = "GET", path: str = "", status: int = 200
) -> list[DnsEntry]:
    """``{"dnsEntries": [...]}`` → list of ``DnsEntry`` in TransIP's order."""
    items = _list_field(data, "dnsEntries", method, path, status)
    return [
        entry_from_json(item, where=f"dnsEntries[{i}]", method=method, path=path, status=status)
        for i, item in enumerate(items)
    ]


def domain_names_from_json(
    data: Mapping[str, Any], *, method: str = "GET", path: str = "", status: int = 200
) -> list[str]:
    """``{"domains": [{"name": ...}, ...]}`` → the names."""
    items = _list_field(data, "domains", method, path, status)
    names: list[str] = []
    for i, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise _bad(method, path, status, f"domains[{i}].name is missing or not a string")
        names.append(name)
    return names


def ping_from_json(
    data: Mapping[str, Any], *, method: str = "GET", path: str = "", status: int = 200
) -> str:
    """``{"ping": "pong"}`` → ``"pong"``."""
    return _text_field(data, "ping", method, path, status)


def token_from_json(
    data: Mapping[str, Any], *, method: str = "POST", path: str = "/auth", status: int = 201
) -> str:
    """``{"token": "<JWT>"}`` → the token (the token itself never enters a message).

    A token that is not printable ASCII could not be sent in a header: refused here.
    """
    value = _text_field(data, "token", method, path, status, blank=False).strip()
    if not is_token_text(value):
        raise _bad(method, path, status, "the token is not printable ASCII")
    return value


def _text_field(
    data: Mapping[str, Any], key: str, method: str, path: str, status: int, *, blank: bool = True
) -> str:
    """The string ``data[key]`` (not blank unless ``blank``); "no KEY field" otherwise."""
    value = data.get(key)
    if not isinstance(value, str) or (not blank and not value.strip()):
        raise _bad(method, path, status, f"no {key} field")
    return value


def _list_field(
    data: Mapping[str, Any], key: str, method: str, path: str, status: int
) -> list[Any]:
    """The list ``data[key]``; "no KEY list" otherwise."""
    value = data.get(key)
    if not isinstance(value, list):
        raise _bad(method, path, status, f"no {key} list")
    return value


def _links(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every ``(rel, link)`` pair in ``_links``, in whichever of TransIP's shapes it comes.

    The seed shows both ``"_links": [{"rel", "link"}, ...]`` and
    ``"_links": {"pages": [{"rel", "link"}, ...]}``; ``{"next": "..."}`` is tolerated too.
    """
    raw = data.get("_links")
    items: list[object] = []
    if isinstance(raw, list):
        items.extend(raw)
    elif isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(value, list):
                items.extend(value)
            elif isinstance(value, str):
                items.append({"rel": key, "link": value})
            elif isinstance(value, dict) and "link" in value:
                items.append({"rel": value.get("rel", key), "link": value["link"]})
    pairs: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, dict):
            rel, link = item.get("rel"), item.get("link")
            if isinstance(rel, str) and isinstance(link, str) and link:
                pairs.append((rel, link))
    return pairs


def next_page_query(data: Mapping[str, Any]) -> dict[str, str] | None:
    """The query parameters of the ``next`` page link, or ``None`` on the last/only page.

    Only the query (``page``, ``pageSize``) is taken from the link: the request still goes
    to the configured API URL, whatever host the link names.
    """
    for rel, link in _links(data):
        if rel == "next":
            query = dict(parse_qsl(urlsplit(link).query))
            return query or None
    return None


# ----------------------------------------------------------------------------- refusals of a write


def is_already_exists(message: str) -> bool:
    """Whether a refused POST's text says the identical entry is already there."""
    return "already exist" in message.lower()


def is_expire_mismatch(message: str) -> bool:
    """Whether a refused POST's text says entries with that name and type use another expire."""
    text = message.lower()
    return "expire" in text and any(w in text for w in ("share", "same", "mismatch", "differ"))


def is_unknown_domain(message: str) -> bool:
    """Whether a 404 text says the domain is not in the account ("Domain with name 'x' not
    found"), as opposed to a missing entry."""
    return "domain with name" in message.lower()


def mentions_domain(message: str) -> bool:
    """Whether a 404 text for a DELETE is about the domain rather than the entry (any
    mention of "domain"; looser than :func:`is_unknown_domain`)."""
    return "domain" in message.lower()
