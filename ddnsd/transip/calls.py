"""One API call, start to finish: token, transport, and the retry decisions between attempts.

``Caller.call`` gets a token from the ``TokenSource``, sends through the ``Transport`` and
hands what each attempt got to ``retry.decide`` (the rules are written down there); it
only carries the decision out: log, sleep, renew the token, raise, or return the answer.

Every request of a call (the ``/auth`` it may need included) is charged to the caller's
``kind`` in the request budget. A 429, or a budget that says wait, ends the call with
:class:`~ddnsd.errors.ApiDeferred` (``until``: when TransIP may be asked again); the
caller of the client decides whether to wait or to defer its work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ddnsd.errors import ApiDeferred, TransipError
from ddnsd.transip.auth import TokenSource
from ddnsd.transip.budget import DDNS, requests_of
from ddnsd.transip.http import Transport
from ddnsd.transip.ledger import MARGIN, NO_RESET_WAIT
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
    decide,
    reset_text,
)
from ddnsd.transip.wire import decode_json, make_error

log = logging.getLogger(__name__)


class Caller:
    """Sends API calls with a bearer token, retrying as ``policy`` allows.

    ``sleep`` waits between attempts, ``rand`` draws the backoff jitter, ``clock`` is the
    wall clock the rate-limit reset is compared with. ``kind`` ("ddns"/"acme") is what the
    request budget charges.
    """

    def __init__(
        self,
        transport: Transport,
        auth: TokenSource,
        policy: Policy,
        *,
        sleep: Callable[[float], None],
        rand: Callable[[], float],
        clock: Callable[[], float],
        kind: str = DDNS,
    ) -> None:
        self.transport = transport
        self.auth = auth
        self.policy = policy
        self.kind = kind
        self._sleep = sleep
        self._rand = rand
        self._clock = clock

    def call(
        self,
        method: str,
        template: str,
        *,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> dict[str, Any] | None:
        """Send ``method path`` until it is done or fails for good.

        ``template`` is what the observer sees. Returns the decoded JSON object, or
        ``None`` for an empty 201/204 answer. Raises the ``TransipError`` family
        (``ApiDeferred`` for a 429 or a budget that says wait).
        """
        with requests_of(self.kind):
            return self._call(method, template, path=path, query=query, body=body)

    def _call(
        self,
        method: str,
        template: str,
        *,
        path: str,
        query: Mapping[str, str] | None,
        body: bytes | None,
    ) -> dict[str, Any] | None:
        progress = Progress()
        while True:
            try:
                token = self.auth.token()
            except ApiDeferred:
                raise
            except TransipError as exc:
                if exc.status == 429:
                    raise self._silenced(exc.message, "POST", "/auth") from None
                got = Exchange(method, exc.status, exc.message, for_token=True)
                decision = self._decide(got, progress)
                if not isinstance(decision, Retry):
                    raise  # the token source's own error, with its final text
                self._pause(decision, "POST", "/auth", progress)
                progress = advance(progress, got, decision)
                continue
            answer = self.transport.send(
                method,
                template,
                path=path,
                query=query,
                body=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            got = Exchange(
                method,
                answer.status,
                answer.message,
                may_have_arrived=answer.may_have_arrived,
                reset=self.transport.rate_limit.reset,
            )
            decision = self._decide(got, progress)
            if isinstance(decision, Done):
                if decision.gone_already:
                    log.info(
                        "TransIP %s %s: %s after an earlier attempt got no answer; that "
                        "attempt removed it",
                        method,
                        path,
                        got.message,
                    )
                    return None
                if not answer.body.strip():
                    return None
                return decode_json(answer.body, method=method, path=path, status=answer.status)
            if isinstance(decision, Fail):
                if decision.status == 429:
                    raise self._silenced(decision.message, method, path)
                raise make_error(
                    decision.status, decision.message, method=method, path=path, hint=decision.hint
                )
            if isinstance(decision, Renew):
                log.info("TransIP %s %s: %s; getting a new access token", method, path, got.message)
                self.auth.invalidate(token)
            else:
                self._pause(decision, method, path, progress)
            progress = advance(progress, got, decision)

    def _silenced(self, message: str, method: str, path: str) -> ApiDeferred:
        """A 429: the call ends here; ``until`` is the reset (the budget's circuit too)."""
        now, reset = self._clock(), self.transport.rate_limit.reset
        until = reset + MARGIN if reset is not None else now + NO_RESET_WAIT
        return ApiDeferred(
            until, self.kind, message, method=method, path=path, hint=reset_text(reset, now)
        )

    def _decide(self, got: Exchange, progress: Progress) -> Decision:
        return decide(got, progress, self.policy, now=self._clock(), rand=self._rand())

    def _pause(self, retry: Retry, method: str, path: str, progress: Progress) -> None:
        log.warning(
            "TransIP %s %s: %s; retrying in %.1f s (retry %d of %d)",
            method,
            path,
            retry.why,
            retry.delay,
            progress.attempt + 1,
            self.policy.max_retries,
        )
        self._sleep(retry.delay)
