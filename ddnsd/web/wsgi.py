"""HTTP plumbing shared by the routes: requests, responses, errors, credentials.

Credentials are compared in constant time (both username and password, always both).
Missing credentials answer 401 with ``WWW-Authenticate``; wrong ones answer 401 too and
count as a failed attempt: after ``max_failures`` failures from one client address
within ``window`` seconds, that address gets 429 (dyndns2: ``abuse``) until the window
has passed.

Bodies: 400 when malformed (not a number of bytes, cut short, not a JSON object), 413
for a body over ``max_body`` (checked on Content-Length before reading; the read is
bounded too). A chunked body arrives with its Content-Length: waitress joins the chunks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from wsgiref.types import WSGIEnvironment

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = TEXT
    headers: list[tuple[str, str]] = field(default_factory=list)


def text(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """``message`` and a newline as UTF-8 text."""
    return Response(status, (message + "\n").encode("utf-8"), TEXT, list(headers))


def json_response(status: int, obj: object, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(status, json.dumps(obj).encode("utf-8"), JSON, list(headers))


class HttpError(Exception):
    """An answer other than success; rendered as text or JSON by the route's style."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or HTTPStatus(status).phrase.lower().replace(" ", "_")
        self.headers = list(headers)


class WebRequest:
    """One request as the routes see it: method, path, client address, headers, body."""

    def __init__(self, environ: WSGIEnvironment, max_body: int) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = str(environ.get("PATH_INFO", "") or "/")
        self.client = str(environ.get("REMOTE_ADDR", "") or "-")
        self.max_body = max_body

    def header(self, name: str) -> str | None:
        value = self.environ.get("HTTP_" + name.upper().replace("-", "_"))
        return None if value is None else str(value)

    @property
    def query(self) -> str:
        return str(self.environ.get("QUERY_STRING", ""))

    def body(self) -> bytes:
        """The request body, at most ``max_body`` bytes; HttpError otherwise."""
        raw = str(self.environ.get("CONTENT_LENGTH", "") or "").strip()
        if not raw:
            return b""
        if not (raw.isascii() and raw.isdigit()):  # int() would take "²" for a digit
            raise HttpError(400, f"Content-Length {raw[:20]!r} is not a number of bytes")
        length = int(raw)
        if length > self.max_body:
            raise HttpError(
                413, f"the body is {length} bytes; at most {self.max_body} are accepted"
            )
        stream = self.environ["wsgi.input"]
        chunks: list[bytes] = []
        remaining = length
        try:
            while remaining > 0:
                chunk = stream.read(min(remaining, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError as exc:
            raise HttpError(400, "the body could not be read completely") from exc
        if remaining > 0:
            raise HttpError(400, f"the body ended {remaining} bytes before its Content-Length")
        return b"".join(chunks)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; 400 ``malformed_json_payload`` otherwise."""
        data = self.body()
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise HttpError(400, "the body is not valid JSON", "malformed_json_payload") from exc
        if not isinstance(obj, dict):
            raise HttpError(400, "the body must be a JSON object", "malformed_json_payload")
        return obj


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    handler: Callable[[WebRequest], Response]
    style: str = "text"  # how HttpError renders: "text" or "json"


GET = frozenset({"GET", "HEAD"})
POST = frozenset({"POST"})


def basic_credentials(header: str | None) -> tuple[bytes, bytes] | None:
    """(username, password) from ``Authorization: Basic ...``; None when absent or garbled."""
    if not header:
        return None
    scheme, _, param = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(param.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user, password


def credentials_match(user: bytes, password: bytes, want_user: str, want_password: str) -> bool:
    """Constant-time check of both parts; always compares both."""
    ok_user = hmac.compare_digest(user, want_user.encode("utf-8"))
    ok_password = hmac.compare_digest(password, want_password.encode("utf-8"))
    return ok_user & ok_password


class AuthGuard:
    """Checks credentials; counts wrong ones per client address and locks out repeat offenders."""

    MAX_CLIENTS = 4096  # client addresses remembered at once

    def __init__(self, max_failures: int, window: float, clock: Callable[[], float]) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (count, first at)

    def locked_for(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: not locked out)."""
        now = self._clock()
        with self._lock:
            count, first = self._failures.get(client, (0, now))
            if now - first >= self.window:
                self._failures.pop(client, None)
                return 0.0
            return first + self.window - now if count >= self.max_failures else 0.0

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            failures = self._failures  # oldest first failure first (dicts keep their order)
            count, first = failures.get(client, (0, now))
            if now - first >= self.window:
                failures.pop(client, None)  # a new window: to the back of the line
                count, first = 0, now
            failures[client] = (count + 1, first)
            # Bounded memory at constant cost per failure: drop from the front what is
            # stale, and the oldest beyond MAX_CLIENTS (a flood of addresses cannot make
            # every failed login scan the whole table).
            while failures:
                oldest, (_, at) = next(iter(failures.items()))
                if now - at < self.window and len(failures) <= self.MAX_CLIENTS:
                    break
                del failures[oldest]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def retry_after(self, client: str) -> int:
        """Whole seconds until ``client`` may try again (0: not locked out)."""
        wait = self.locked_for(client)
        return int(wait) + 1 if wait > 0 else 0

    def refuse_if_locked(self, req: WebRequest) -> None:
        """429 ``too_many_attempts`` while ``req``'s client is locked out."""
        wait = self.retry_after(req.client)
        if wait:
            raise HttpError(
                429,
                f"too many failed logins from {req.client}; try again in {wait} s",
                "too_many_attempts",
                [("Retry-After", str(wait))],
            )

    def require_basic(self, req: WebRequest, username: str, password: str, realm: str) -> None:
        """Return when the request carries these credentials, else raise a 401 challenge.

        Wrong credentials count against the client's address; missing ones do not (some
        clients send credentials only after the challenge).
        """
        challenge = [("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"')]
        creds = basic_credentials(req.header("Authorization"))
        if creds is None:
            raise HttpError(401, "authentication required (HTTP basic auth)", headers=challenge)
        if not credentials_match(creds[0], creds[1], username, password):
            self.failed(req.client)
            log.warning("wrong credentials from %s for %s", req.client, req.path[:200])
            raise HttpError(401, "wrong username or password", headers=challenge)
        self.succeeded(req.client)
