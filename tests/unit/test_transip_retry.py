"""ddnsd.transip.retry: the retry policy as a table, one named case per rule (no sockets)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from ddnsd.transip.retry import (
    Decision,
    Done,
    Exchange,
    Fail,
    Policy,
    Progress,
    Renew,
    Retry,
    advance,
    backoff_delay,
    decide,
)

# ----------------------------------------------------------------------------- backoff

BACKOFF = [
    # (id, attempt, base, cap, rand, delay)
    ("first-retry/rand-0", 0, 0.5, 8.0, 0.0, 0.25),
    ("first-retry/rand-1", 0, 0.5, 8.0, 1.0, 0.5),
    ("second-retry/rand-half", 1, 0.5, 8.0, 0.5, 0.75),
    ("fourth-retry/rand-half", 3, 0.5, 8.0, 0.5, 3.0),
    ("capped/rand-0", 10, 0.5, 8.0, 0.0, 4.0),
    ("capped/rand-1", 10, 0.5, 8.0, 1.0, 8.0),
    ("huge-attempt/no-overflow", 10_000, 0.5, 8.0, 1.0, 8.0),
    ("negative-attempt/as-first", -3, 0.5, 8.0, 1.0, 0.5),
    ("rand-below-0/clamped", 0, 1.0, 8.0, -5.0, 0.5),
    ("rand-above-1/clamped", 0, 1.0, 8.0, 7.0, 1.0),
    ("zero-base", 5, 0.0, 8.0, 0.5, 0.0),
]


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "rand", "delay"),
    [b[1:] for b in BACKOFF],
    ids=[b[0] for b in BACKOFF],
)
def test_backoff_delay(attempt: int, base: float, cap: float, rand: float, delay: float) -> None:
    assert backoff_delay(attempt, base, cap, rand) == pytest.approx(delay)


def test_backoff_is_bounded_and_grows() -> None:
    ceilings = [backoff_delay(a, 0.5, 8.0, 1.0) for a in range(12)]
    assert ceilings == sorted(ceilings)
    assert max(ceilings) == 8.0
    assert all(backoff_delay(a, 0.5, 8.0, 0.0) >= ceilings[a] / 2 for a in range(12))


# ----------------------------------------------------------------------------- decide

API = "https://api.example.test/v6"
POLICY = Policy(max_retries=2, backoff_base=1.0, backoff_cap=8.0, api_url=API)
NOW = 1_700_000_000.0
RAND = 0.0  # the jitter's lower end: the first retry waits 0.5 s, the second 1 s

SAVING = "Error fetching Dns Entries: DNS Entries are currently being saved"
SERVER = "Internal server error"
LOST = "the connection was dropped before an answer arrived"
TIMEOUT = "no answer within 10 s"
REFUSED = "connection refused"
GONE = "DNS Entry not found"
EXPIRED = "Your access token has expired; request a new one"
REVOKED = "Your access token has been revoked; request a new one"
INVALID = "Your access token is invalid; request a new one"
RATE = "Rate limit of 1000 requests per 15 minutes exceeded"

FIRST = Progress()
LAST = Progress(attempt=2)  # max_retries used up
AFTER_LOST = Progress(attempt=1, maybe_applied=True)
RENEWED = Progress(renewed=True)

MAYBE_APPLIED = "TransIP may have applied it anyway; re-read the zone before trying again"
REFRESHED = (
    "A freshly issued access token was refused as well; check the key and the access "
    "tokens in the TransIP control panel"
)


def _resets_at(reset: float, seconds: int) -> str:
    clock = time.strftime("%H:%M:%S", time.localtime(reset))
    return f"The rate-limit window resets at {clock} (in {seconds} s)"


def _no_answer(method: str, reason: str, arrived: bool) -> Exchange:
    return Exchange(method, 0, reason, may_have_arrived=arrived)


def _token(status: int, message: str) -> Exchange:
    return Exchange("POST", status, message, for_token=True)


@dataclass(frozen=True)
class Case:
    id: str
    got: Exchange
    progress: Progress
    expected: Decision


CASES = [
    # success
    Case("get-200/done", Exchange("GET", 200), FIRST, Done()),
    Case("post-201/done", Exchange("POST", 201), FIRST, Done()),
    Case("delete-204/done-after-retries", Exchange("DELETE", 204), LAST, Done()),
    # 409 "being saved": a refusal, so retried for every method, POST too
    Case(
        "409-saving/get/retried", Exchange("GET", 409, SAVING), FIRST, Retry(0.5, f"409 {SAVING}")
    ),
    Case(
        "409-saving/post/retried-too",
        Exchange("POST", 409, SAVING),
        FIRST,
        Retry(0.5, f"409 {SAVING}"),
    ),
    Case(
        "409-saving/patch/second-retry-waits-longer",
        Exchange("PATCH", 409, SAVING),
        Progress(attempt=1),
        Retry(1.0, f"409 {SAVING}"),
    ),
    Case(
        "409-other/not-retried",
        Exchange("PATCH", 409, "The domain is locked"),
        FIRST,
        Fail(409, "The domain is locked"),
    ),
    Case(
        "409-saving/retries-exhausted",
        Exchange("PATCH", 409, SAVING),
        LAST,
        Fail(409, SAVING, "Still failing after 3 attempts; try again later"),
    ),
    # 5xx: retried, except for POST (it may have been applied)
    Case("500/get/retried", Exchange("GET", 500, SERVER), FIRST, Retry(0.5, f"500 {SERVER}")),
    Case("500/patch/retried", Exchange("PATCH", 500, SERVER), FIRST, Retry(0.5, f"500 {SERVER}")),
    Case(
        "503/delete/retried",
        Exchange("DELETE", 503, "Bad gateway"),
        FIRST,
        Retry(0.5, "503 Bad gateway"),
    ),
    Case(
        "500/post/not-retried",
        Exchange("POST", 500, SERVER),
        FIRST,
        Fail(500, SERVER, MAYBE_APPLIED),
    ),
    Case(
        "500/get/retries-exhausted",
        Exchange("GET", 500, SERVER),
        LAST,
        Fail(500, SERVER, "Still failing after 3 attempts; try again later"),
    ),
    # no answer
    Case(
        "lost/post/not-retried",
        _no_answer("POST", LOST, True),
        FIRST,
        Fail(
            0,
            f"{LOST}, so TransIP may or may not have applied it",
            "Re-read the zone before trying again",
        ),
    ),
    Case(
        "timeout/post/not-retried",
        _no_answer("POST", TIMEOUT, True),
        FIRST,
        Fail(
            0,
            f"{TIMEOUT}, so TransIP may or may not have applied it",
            "Re-read the zone before trying again",
        ),
    ),
    Case(
        "refused/post/retried-never-arrived",
        _no_answer("POST", REFUSED, False),
        FIRST,
        Retry(0.5, REFUSED),
    ),
    Case("lost/get/retried", _no_answer("GET", LOST, True), FIRST, Retry(0.5, LOST)),
    Case("lost/patch/retried-converges", _no_answer("PATCH", LOST, True), FIRST, Retry(0.5, LOST)),
    Case(
        "timeout/delete/retried-converges",
        _no_answer("DELETE", TIMEOUT, True),
        FIRST,
        Retry(0.5, TIMEOUT),
    ),
    Case(
        "refused/retries-exhausted",
        _no_answer("GET", REFUSED, False),
        LAST,
        Fail(0, f"{REFUSED} (tried 3 times)", f"Is api_url ({API}) reachable?"),
    ),
    # DELETE 404 after an attempt that may have arrived: that attempt removed it
    Case(
        "delete-404/after-maybe-applied/done",
        Exchange("DELETE", 404, GONE),
        AFTER_LOST,
        Done(gone_already=True),
    ),
    Case("delete-404/first-attempt/fails", Exchange("DELETE", 404, GONE), FIRST, Fail(404, GONE)),
    Case(
        "delete-404-unknown-domain/after-maybe-applied/fails",
        Exchange("DELETE", 404, "Domain with name 'nope.test' not found"),
        AFTER_LOST,
        Fail(404, "Domain with name 'nope.test' not found"),
    ),
    Case(
        "get-404/after-maybe-applied/fails", Exchange("GET", 404, GONE), AFTER_LOST, Fail(404, GONE)
    ),
    # 429: never sent again by the call (the budget keeps silent until the reset; the
    # caller decides whether to wait)
    Case(
        "429/reset-soon/not-waited-for",
        Exchange("GET", 429, RATE, reset=NOW + 30),
        FIRST,
        Fail(429, RATE, _resets_at(NOW + 30, 30)),
    ),
    Case(
        "429/reset-passed/still-not-resent",
        Exchange("POST", 429, RATE, reset=NOW - 5),
        FIRST,
        Fail(429, RATE, _resets_at(NOW - 5, 0)),
    ),
    Case(
        "429/reset-far/fails-with-reset",
        Exchange("GET", 429, RATE, reset=NOW + 600),
        FIRST,
        Fail(429, RATE, _resets_at(NOW + 600, 600)),
    ),
    Case(
        "429/with-retries-left/not-retried",
        Exchange("GET", 429, RATE, reset=NOW + 30),
        AFTER_LOST,
        Fail(429, RATE, _resets_at(NOW + 30, 30)),
    ),
    Case(
        "429/reset-unknown/fails",
        Exchange("GET", 429, RATE),
        FIRST,
        Fail(429, RATE, "TransIP did not say when the rate-limit window resets; try again later"),
    ),
    # 401: the token is not accepted (expired, revoked, unknown): renew once, then fail loudly
    Case("401-expired/renews", Exchange("GET", 401, EXPIRED), FIRST, Renew()),
    Case("401-revoked/renews-even-for-post", Exchange("POST", 401, REVOKED), FIRST, Renew()),
    Case(
        "401-revoked/after-renewal/fails-loudly",
        Exchange("GET", 401, REVOKED),
        RENEWED,
        Fail(401, REVOKED, REFRESHED),
    ),
    Case("401-invalid/renews", Exchange("GET", 401, INVALID), FIRST, Renew()),
    Case(
        "401-invalid/after-renewal/fails-loudly",
        Exchange("DELETE", 401, INVALID),
        RENEWED,
        Fail(401, INVALID, REFRESHED),
    ),
    # other client errors are final
    Case(
        "406-no-match/final",
        Exchange("PATCH", 406, "Could not find match for DNS entry 'x 300 A'"),
        FIRST,
        Fail(406, "Could not find match for DNS entry 'x 300 A'"),
    ),
    Case("403-read-only/final", Exchange("POST", 403, "read-only"), FIRST, Fail(403, "read-only")),
    # getting the token (POST /auth) failed: the call was not sent, so even a POST goes on
    Case("token-500/retried", _token(500, SERVER), FIRST, Retry(0.5, SERVER)),
    Case("token-unavailable/retried", _token(0, REFUSED), FIRST, Retry(0.5, REFUSED)),
    Case("token-unavailable/retries-exhausted", _token(0, REFUSED), LAST, Fail(0, REFUSED)),
    Case(
        "token-401/final",
        _token(401, "Invalid API signature"),
        FIRST,
        Fail(401, "Invalid API signature"),
    ),
    Case("token-429/final", _token(429, RATE), FIRST, Fail(429, RATE)),
    Case(
        "token-bad-answer/final",
        _token(201, "unexpected answer: no token field"),
        FIRST,
        Fail(201, "unexpected answer: no token field"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decide(case: Case) -> None:
    assert decide(case.got, case.progress, POLICY, now=NOW, rand=RAND) == case.expected


def test_every_case_is_named_once() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


ADVANCES = [
    # (id, exchange, decision, progress after)
    (
        "retry-after-lost/maybe-applied",
        _no_answer("DELETE", LOST, True),
        Retry(0.5, LOST),
        Progress(attempt=1, maybe_applied=True),
    ),
    (
        "retry-after-500/maybe-applied",
        Exchange("PATCH", 500, SERVER),
        Retry(0.5, SERVER),
        Progress(attempt=1, maybe_applied=True),
    ),
    (
        "retry-after-refused/not-applied",
        _no_answer("GET", REFUSED, False),
        Retry(0.5, REFUSED),
        Progress(attempt=1),
    ),
    (
        "retry-after-409/not-applied",
        Exchange("PATCH", 409, SAVING),
        Retry(0.5, SAVING),
        Progress(attempt=1),
    ),
    (
        "retry-after-token-failure/counts",
        _token(500, SERVER),
        Retry(0.5, SERVER),
        Progress(attempt=1),
    ),
    ("renew/not-an-attempt", Exchange("GET", 401, EXPIRED), Renew(), Progress(renewed=True)),
    ("fail/final", Exchange("GET", 429, RATE), Fail(429, RATE), FIRST),
]


@pytest.mark.parametrize(
    ("got", "decision", "after"), [a[1:] for a in ADVANCES], ids=[a[0] for a in ADVANCES]
)
def test_advance(got: Exchange, decision: Decision, after: Progress) -> None:
    assert advance(FIRST, got, decision) == after


def test_lost_delete_then_not_found_is_done() -> None:
    """The flags carry the lost attempt to the retry's 404."""
    progress = FIRST
    for got in (_no_answer("DELETE", LOST, True), Exchange("DELETE", 404, GONE)):
        decision = decide(got, progress, POLICY, now=NOW, rand=RAND)
        progress = advance(progress, got, decision)
    assert decision == Done(gone_already=True)


def test_retries_are_bounded_by_max_retries() -> None:
    """A call that keeps failing is sent max_retries + 1 times, then fails."""
    got, progress, sent = Exchange("GET", 500, SERVER), FIRST, 1
    while isinstance(decision := decide(got, progress, POLICY, now=NOW, rand=RAND), Retry):
        progress, sent = advance(progress, got, decision), sent + 1
    assert sent == POLICY.max_retries + 1
    assert decision == Fail(500, SERVER, "Still failing after 3 attempts; try again later")
