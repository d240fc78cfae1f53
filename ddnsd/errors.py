"""Error types. Every error reaches people as one honest sentence.

``str(error)`` is that sentence: what failed, for what, and what to do. Secrets never
appear in an error's text.
"""

from __future__ import annotations

#: Exit codes of every command (the one place they are defined).
EXIT_OK = 0  # done, or every record in sync
EXIT_FAILED = 1  # something failed: a record, a challenge, a check (one line on stderr)
EXIT_USAGE = 2  # bad usage or configuration; nothing was changed
EXIT_DEFERRED = 3  # TransIP's rate limit: some work was deferred (the line says until when)


class DdnsdError(Exception):
    """Base of every error ddnsd raises on purpose."""


class ConfigError(DdnsdError):
    """The configuration is invalid; ``problems`` lists every problem (key: what is wrong)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    @classmethod
    def in_file(cls, source: object, problems: list[str]) -> ConfigError:
        """``config file X has 1 problem`` / ``… has 3 problems``, listing them."""
        n = len(problems)
        return cls(f"config file {source} has {n} problem{'' if n == 1 else 's'}", problems)


class TransipError(DdnsdError):
    """TransIP (or the way to it) refused or failed a request.

    ``status`` is the HTTP status (0 when no answer arrived), ``message`` TransIP's own
    ``{"error": ...}`` text when it gave one.

    The sentence is "<lead>: <status> <message>. <hint>", where ``lead`` defaults to
    "TransIP <method> <path>"; ``text`` replaces the whole sentence where that form does
    not fit (``status``, ``message`` and the rest are kept as attributes either way).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        method: str = "",
        path: str = "",
        hint: str = "",
        lead: str = "",
        text: str = "",
    ) -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        self.hint = hint
        if not text:
            lead = lead or (f"TransIP {method} {path}" if method else "TransIP")
            text = f"{lead}: {status} {message}" if status else f"{lead}: {message}"
            if hint:
                text = f"{text}. {hint}"
        super().__init__(text)


class TransipUnavailable(TransipError):
    """No answer: connection refused/reset, timeout, or TLS failure (status 0)."""


class TransipAuthError(TransipError):
    """401: the signature, the key, or the token was refused."""


class TransipForbidden(TransipError):
    """403: e.g. a write with a read-only token."""


class TransipNotFound(TransipError):
    """404: domain or DNS entry not found."""


class TransipNotAcceptable(TransipError):
    """406: missing parameter, invalid domain, no/multiple PATCH matches, invalid type."""


class TransipConflict(TransipError):
    """409: e.g. "DNS Entries are currently being saved"."""


class TransipInvalid(TransipError):
    """422: malformed input."""


class TransipRateLimited(TransipError):
    """429: the 1,000 requests / 15 minutes window is used up."""


class ApiDeferred(TransipRateLimited):
    """Nothing was sent: the login's shared request budget is spent, or TransIP answered 429
    and every ddnsd process of that login keeps silent until ``until`` (Unix time).

    ``kind`` is the work that waits ("ddns" or "acme"). A 429 answer itself also ends in
    this error (with TransIP's text): its caller decides whether to wait or to defer.
    """

    def __init__(self, until: float, kind: str, message: str, **sentence: str) -> None:
        super().__init__(429, message, **sentence)
        self.until = until
        self.kind = kind


class TransipServerError(TransipError):
    """5xx from TransIP."""


class DetectionError(DdnsdError):
    """An address source failed or the sources did not agree."""


class UnsafePlan(DdnsdError):
    """The planner refused a change that could damage the zone."""


class PropagationTimeout(DdnsdError):
    """Not every authoritative nameserver served the value in time."""

    def __init__(self, message: str, lagging: list[str] | None = None) -> None:
        super().__init__(message)
        self.lagging = lagging or []


class ChallengeRefused(DdnsdError):
    """An ACME challenge name is outside what ddnsd may touch."""


class BadInput(ChallengeRefused):
    """A name or value from outside is malformed (control characters, raw unicode, …).

    The hooks exit 2 for it, the HTTP API answers 400; nothing is written.
    """
