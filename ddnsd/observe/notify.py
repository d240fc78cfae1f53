"""Notifications and heartbeats: which events and rounds become a message or a ping.

Messages (``[notify] urls``, sent through Apprise) by topic, chosen with ``[notify] events``:

``address``       the agreed address of a family changed (not the first one ever seen)
``written``       a record was written at TransIP
``failure``       ``failure_after`` rounds in a row failed (one message, not one a round)
``recovery``      the first good round after a ``failure`` message
``conflict``      a record has several entries and is left alone
``acme_failure``  an ACME challenge could not be added, served or removed
``deferred``      work was put off by the API budget

Heartbeats (healthchecks.io, Uptime Kuma push, …): ``heartbeat_url`` after each round
that ended in sync, ``heartbeat_fail_url`` (default: ``heartbeat_url`` + ``/fail``) after
a failed one, ``heartbeat_url`` + ``/start`` before each round with ``heartbeat_start``.

Everything goes through an :class:`~ddnsd.observe.outbox.Outbox`: sent off the round's
thread, each with a timeout; a failure is logged and counted, never raised. Up to
:class:`Notifications` the logic is pure and tested as tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ddnsd.config.runtime import NotifyTargets, redact_url
from ddnsd.observe.events import Event, describe
from ddnsd.observe.outbox import AppriseTarget, Outbox, ping

_FAMILY = {"ipv4": "IPv4", "ipv6": "IPv6"}


@dataclass(frozen=True)
class Message:
    topic: str
    title: str
    body: str


def failure_decision(before: int, ok: bool, failure_after: int) -> str | None:
    """ "failure", "recovery" or None for a round, given the failed rounds in a row before it.

    The failure message goes out once, when the ``failure_after``-th round in a row
    fails; the recovery message with the first good round after that.
    """
    if not ok:
        return "failure" if before + 1 == failure_after else None
    return "recovery" if before >= failure_after else None


#: kind → (topic, title); the body is the event's one-line description.
_TITLES = {
    "address": ("address", "ddnsd: {family} address changed to {new}"),
    "written": ("written", "ddnsd: {record} set to {new}"),
    "conflict": ("conflict", "ddnsd: {record} left alone"),
    "challenge_failed": ("acme_failure", "ddnsd: ACME challenge for {name} failed"),
    "deferred": ("deferred", "ddnsd: {what} deferred"),
}


def message_for(e: Event) -> Message | None:
    """The message an event makes, if any (see the module docstring for the topics).

    The first address ever seen is no change and makes none."""
    if e.kind not in _TITLES or (e.kind == "address" and e.get("old") is None):
        return None
    topic, title = _TITLES[e.kind]
    fields = {**e.fields, "family": _FAMILY.get(str(e.get("family")), e.get("family"))}
    body = describe(e.to_json())
    if e.kind == "address":
        body += f" (agreed by {', '.join(e.get('sources') or []) or 'the sources'})"
    return Message(topic, title.format_map(fields), body + ".")


def round_message(decision: str, failed_rounds: int, problems: Sequence[str]) -> Message:
    """The ``failure`` or ``recovery`` message (``problems``: what failed, one line each)."""
    if decision == "failure":
        body = "\n".join(problems) or "see the ddnsd log"
        return Message("failure", f"ddnsd: {failed_rounds} rounds in a row failed", body)
    return Message(
        "recovery",
        "ddnsd: back in sync",
        f"Every record is in sync again after {failed_rounds} failed rounds.",
    )


def with_suffix(url: str, suffix: str) -> str:
    """``url`` with ``suffix`` added to its path, query kept: healthchecks.io's /fail, /start."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


class Notifications:
    """Fed by the reporter; sends what :data:`NotifyTargets` asks for through ``outbox``.

    Building it with Apprise URLs imports Apprise and checks every URL (ValueError naming
    the bad one by its number, never by its text).
    """

    def __init__(self, targets: NotifyTargets, outbox: Outbox) -> None:
        self.targets = targets
        self.outbox = outbox
        self.apprise = [AppriseTarget(i, url) for i, url in enumerate(targets.urls, start=1)]
        self.fail_url = targets.heartbeat_fail_url
        if self.fail_url is None and targets.heartbeat_url:
            self.fail_url = with_suffix(targets.heartbeat_url, "/fail")

    def event(self, e: Event) -> None:
        message = message_for(e)
        if message is not None:
            self.send(message)

    def send(self, message: Message) -> None:
        if message.topic not in self.targets.events:
            return
        for target in self.apprise:
            self.outbox.submit(
                "message",
                f"notification {target.label}",
                lambda t=target: t.send(message.title, message.body),  # type: ignore[misc]
                target.url,
            )

    def round_started(self) -> None:
        if self.targets.heartbeat_start and self.targets.heartbeat_url:
            self._ping(with_suffix(self.targets.heartbeat_url, "/start"))

    def round(self, ok: bool, before: int, problems: Sequence[str]) -> None:
        """A finished round (``before``: failed rounds in a row before it)."""
        decision = failure_decision(before, ok, self.targets.failure_after)
        if decision is not None:
            self.send(round_message(decision, before + 1 if not ok else before, problems))
        url = self.targets.heartbeat_url if ok else self.fail_url
        if url:
            self._ping(url)

    def _ping(self, url: str) -> None:
        timeout = self.targets.timeout
        self.outbox.submit(
            "heartbeat", f"heartbeat {redact_url(url)}", lambda: ping(url, timeout), url
        )

    def close(self, grace: float) -> None:
        self.outbox.close(grace)
