"""The retry policy of an API call, as one pure decision: what to do after an attempt.

``decide`` looks at what an attempt got (``Exchange``), the loop's flags so far
(``Progress``) and the limits (``Policy``) and answers with one of

* ``Done``: the call succeeded, or a DELETE found its entry already removed;
* ``Retry(delay)``: wait ``delay`` seconds, then send the call again (one attempt used);
* ``Renew``: drop the token, get a new one, send again (once per call);
* ``Fail(status, message, hint)``: raise the ``TransipError`` for ``status`` with that text.

The rules:

* 409 "DNS Entries are currently being saved", 5xx and connection failures are retried
  with bounded, jittered exponential backoff (``backoff_delay``), up to ``max_retries``.
* A POST whose answer was lost — the connection dropped or timed out after the request
  was written, or a 5xx arrived — is NOT retried: TransIP may have applied it, and a
  second POST of the same entry would either fail ("already exists") or create a
  duplicate. The error says so, and the caller re-reads the zone and decides. A 409
  "being saved" is a refusal (nothing was applied), so it is retried for POST too.
  PATCH sets an entry to a given content and DELETE removes one exact entry: repeating
  either after an unknown outcome converges on the same zone, so they are retried like
  GET. A retried DELETE that answers 404 "DNS Entry not found" after an attempt that may
  have arrived counts as done: the lost attempt removed the entry.
* 429: never sent again by the call itself: fail saying when the window resets. The
  transport's budget keeps every ddnsd process of the login silent until then, and the
  caller decides what waits (the daemon defers the rest of its round, ``once`` exits 3, a
  hook waits if the reset comes within its propagation timeout).
* 401 to a call: the token is not (or no longer) accepted — expired, revoked, or unknown
  to TransIP (its sessions were reset): drop it, get a new one, retry once; a freshly
  issued token refused as well fails loudly. (A refused ``/auth`` is the token source's
  own error and never retried.)
* Getting a token (``POST /auth``) that fails with 5xx or no answer counts as an attempt
  and is retried with the same backoff: the call itself has not been sent yet. Any other
  token failure is final (the loop raises the token source's own error).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ddnsd.transip.wire import is_being_saved, is_entry_not_found


def backoff_delay(attempt: int, base: float, cap: float, rand: float) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry).

    The ceiling doubles per attempt from ``base`` up to ``cap``; ``rand`` (0 ≤ rand < 1)
    picks a point in the upper half of it ("equal jitter"), so concurrent clients spread
    out but nobody retries immediately.
    """
    rand = min(max(rand, 0.0), 1.0)
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 0), 62))
    return ceiling * (0.5 + rand / 2)


def reset_text(reset: float | None, now: float) -> str:
    """The hint of a 429: when the window resets."""
    if reset is None:
        return "TransIP did not say when the rate-limit window resets; try again later"
    clock = time.strftime("%H:%M:%S", time.localtime(reset))
    return f"The rate-limit window resets at {clock} (in {max(reset - now, 0):.0f} s)"


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Policy:
    """The limits of one client. ``api_url`` only appears in messages."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    api_url: str = ""


@dataclass(frozen=True)
class Exchange:
    """What one attempt of a call got.

    ``status`` 0: no answer (``message`` says why; ``may_have_arrived`` whether the
    request may have reached TransIP). ``for_token``: the attempt failed while getting the
    token, before the call was sent (``status``/``message`` are then the token error's).
    ``reset``: ``X-Rate-Limit-Reset`` as last seen.
    """

    method: str
    status: int
    message: str = ""
    may_have_arrived: bool = False
    for_token: bool = False
    reset: float | None = None


@dataclass(frozen=True)
class Progress:
    """The loop's flags: retries used, and what happened on earlier attempts of the call."""

    attempt: int = 0
    renewed: bool = False
    maybe_applied: bool = False


# ----------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Done:
    """Finished: a 2xx answer, or (``gone_already``) a DELETE whose entry a lost attempt removed."""

    gone_already: bool = False


@dataclass(frozen=True)
class Retry:
    """Send the call again after ``delay`` seconds; ``why`` is for the log."""

    delay: float
    why: str


@dataclass(frozen=True)
class Renew:
    """The token expired or was revoked: drop it and send again with a new one."""


@dataclass(frozen=True)
class Fail:
    """Give up: the ``TransipError`` for ``status`` with ``message`` and ``hint``.

    After a token failure (``Exchange.for_token``) the token source's error is raised
    as it is: it already has its final text.
    """

    status: int
    message: str
    hint: str = ""


Decision = Done | Retry | Renew | Fail


def decide(
    got: Exchange, progress: Progress, policy: Policy, *, now: float, rand: float
) -> Decision:
    """What to do after an attempt (the rules are in the module docstring).

    ``now`` is the wall clock (for the rate-limit reset), ``rand`` a random number in
    [0, 1) for the backoff jitter.
    """
    status, message = got.status, got.message
    can_retry = progress.attempt < policy.max_retries
    delay = backoff_delay(progress.attempt, policy.backoff_base, policy.backoff_cap, rand)
    if got.for_token:
        if (status == 0 or status >= 500) and can_retry:
            return Retry(delay, message)
        return Fail(status, message)
    if 200 <= status < 300:
        return Done()
    if status == 0:
        if got.method == "POST" and got.may_have_arrived:
            return Fail(
                0,
                f"{message}, so TransIP may or may not have applied it",
                "Re-read the zone before trying again",
            )
        if can_retry:
            return Retry(delay, message)
        return Fail(
            0,
            f"{message} (tried {progress.attempt + 1} times)",
            f"Is api_url ({policy.api_url}) reachable?",
        )
    if status == 401:
        if not progress.renewed:
            return Renew()
        return Fail(
            status,
            message,
            "A freshly issued access token was refused as well; check the key and the "
            "access tokens in the TransIP control panel",
        )
    if status == 429:
        return Fail(status, message, reset_text(got.reset, now))
    if status >= 500 and got.method == "POST":
        return Fail(
            status,
            message,
            "TransIP may have applied it anyway; re-read the zone before trying again",
        )
    if (status == 409 and is_being_saved(message)) or status >= 500:
        if can_retry:
            return Retry(delay, f"{status} {message}")
        return Fail(
            status, message, f"Still failing after {progress.attempt + 1} attempts; try again later"
        )
    if (
        got.method == "DELETE"
        and status == 404
        and progress.maybe_applied
        and is_entry_not_found(message)
    ):
        return Done(gone_already=True)
    return Fail(status, message)


def advance(progress: Progress, got: Exchange, decision: Decision) -> Progress:
    """The flags for the next attempt after ``decision`` was carried out."""
    if isinstance(decision, Renew):
        return replace(progress, renewed=True)
    if isinstance(decision, Retry):
        may_have_applied = not got.for_token and (
            (got.status == 0 and got.may_have_arrived) or got.status >= 500
        )
        return replace(
            progress,
            attempt=progress.attempt + 1,
            maybe_applied=progress.maybe_applied or may_have_applied,
        )
    return progress
