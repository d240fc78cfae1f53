"""Notifications and heartbeats: the pure decisions, URL handling, and the outbox's timeout."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ddnsd import logs
from ddnsd.config.runtime import NotifyTargets, redact_url
from ddnsd.observe.events import event
from ddnsd.observe.notify import (
    Notifications,
    failure_decision,
    message_for,
    round_message,
    with_suffix,
)
from ddnsd.observe.outbox import AppriseTarget, Outbox, scrub


@pytest.mark.parametrize(
    ("oks", "after", "decisions"),
    [
        ([True, True], 3, [None, None]),
        ([False, False, False, False, True], 3, [None, None, "failure", None, "recovery"]),
        ([False, False, True, False, False, False], 3, [None, None, None, None, None, "failure"]),
        ([False, True, False, True], 1, ["failure", "recovery", "failure", "recovery"]),
        ([False, False, True], 3, [None, None, None]),  # recovered before the message: silence
    ],
    ids=["quiet", "fail-then-recover", "count-restarts", "after-1", "short-outage"],
)
def test_failure_after_counting(oks: list[bool], after: int, decisions: list[str | None]) -> None:
    before, got = 0, []
    for ok in oks:
        got.append(failure_decision(before, ok, after))
        before = 0 if ok else before + 1
    assert got == decisions


A1, A2, REC = "203.0.113.1", "203.0.113.2", "h.example.test/A"
ACME_NAME = "_acme-challenge.example.test"
EVENTS = [
    (
        "address",
        dict(family="ipv4", old=A1, new=A2, sources=["dns:x"]),
        "address",
        f"IPv4 address changed to {A2}",
    ),
    ("address", dict(family="ipv6", old=None, new="2001:db8::1", sources=[]), None, ""),
    ("written", dict(record=REC, method="PATCH", old=A1, new=A2), "written", f"{REC} set to {A2}"),
    ("conflict", dict(record=REC, message="two entries"), "conflict", "left alone"),
    (
        "challenge_failed",
        dict(name=ACME_NAME, action="present", message="x"),
        "acme_failure",
        "ACME",
    ),
    ("deferred", dict(what="records", count=3, until=5.0, reason="spent"), "deferred", "deferred"),
    ("failed", dict(record=REC, message="no"), None, ""),  # rounds are counted instead
    ("challenge_served", dict(name="n", seconds=1.0, nameservers={}), None, ""),
]


@pytest.mark.parametrize(
    ("kind", "fields", "topic", "words"),
    EVENTS,
    ids=["address", "first-address", "written", "conflict", "acme", "deferred", "failed", "served"],
)
def test_message_for_event(
    kind: str, fields: dict[str, Any], topic: str | None, words: str
) -> None:
    m = message_for(event(kind, 1.0, **fields))
    assert (m.topic if m else None) == topic
    if m is not None:
        assert words in m.title


def test_round_messages() -> None:
    failure = round_message("failure", 3, ["h.example.test/A: TransIP said no"])
    assert failure.title == "ddnsd: 3 rounds in a row failed"
    assert "TransIP said no" in failure.body
    assert "after 4 failed rounds" in round_message("recovery", 4, []).body


@pytest.mark.parametrize(
    ("url", "suffix", "want"),
    [
        ("https://hc-ping.com/abc", "/fail", "https://hc-ping.com/abc/fail"),
        ("https://hc-ping.com/abc/", "/start", "https://hc-ping.com/abc/start"),
        (
            "https://hc.test/ping/k/slug?create=1",
            "/fail",
            "https://hc.test/ping/k/slug/fail?create=1",
        ),
    ],
)
def test_heartbeat_suffix(url: str, suffix: str, want: str) -> None:
    assert with_suffix(url, suffix) == want


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("tgram://123456:ABCDEF/987", "tgram://…"),
        ("json://user:pw@host/path", "json://…"),
        ("https://hc-ping.com/uuid", "https://…"),
        ("no url at all", "…"),
    ],
)
def test_redact_url_shows_the_scheme_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_scrub_removes_every_part_of_the_url() -> None:
    url = "tgram://123456:SECRETTOKEN@api.example.test/chat-42?key=hunter22"
    text = f"Failed to send to api.example.test with SECRETTOKEN (chat-42, hunter22): {url}"
    cleaned = scrub(text, url)
    for secret in ("SECRETTOKEN", "hunter22", "chat-42", "api.example.test"):
        assert secret not in cleaned


def test_a_failed_apprise_send_logs_no_part_of_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    """Apprise's own lines (its debug "JSON POST URL: …/s3cr3tpath") stay out of ddnsd's
    log, even when debugging; the failure text is its warning, scrubbed."""
    logs.setup("text", "DEBUG")  # the root handler ddnsd logs through, on stderr
    target = AppriseTarget(1, "json://user:hunter2pw@127.0.0.1:9/s3cr3tpath")
    why = target.send("title", "body")
    assert why == "A Connection error occurred sending JSON notification to …."
    err = capsys.readouterr().err
    assert not [s for s in ("hunter2pw", "s3cr3tpath") if s in err], err


class Recorder:
    """An outbox that keeps what it is given (kind, label) instead of sending."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def submit(self, kind: str, label: str, job: Any, url: str) -> None:
        self.sent.append((kind, url))

    def close(self, grace: float) -> None:
        pass


HC, UP, DOWN = "https://hc/x", "https://k/push/t?status=up", "https://k/push/t?status=down"


@pytest.mark.parametrize(
    ("targets", "oks", "pings"),
    [
        (NotifyTargets(heartbeat_url=HC), [True, False, True], [HC, HC + "/fail", HC]),
        (NotifyTargets(heartbeat_url=UP, heartbeat_fail_url=DOWN), [True, False], [UP, DOWN]),
        (NotifyTargets(heartbeat_url=HC, heartbeat_start=True), [True], [HC + "/start", HC]),
    ],
    ids=["healthchecks", "uptime-kuma", "start"],
)
def test_heartbeats_per_round(targets: NotifyTargets, oks: list[bool], pings: list[str]) -> None:
    outbox = Recorder()
    n = Notifications(targets, outbox)  # type: ignore[arg-type]
    before = 0
    for ok in oks:
        n.round_started()
        n.round(ok, before, [])
        before = 0 if ok else before + 1
    assert [url for kind, url in outbox.sent] == pings
    assert {kind for kind, _ in outbox.sent} == {"heartbeat"}


def test_outbox_does_not_wait_for_a_hanging_job_and_counts_it() -> None:
    release, failures = threading.Event(), []
    counted = threading.Event()

    def on_failure(kind: str) -> None:
        failures.append(kind)
        counted.set()

    outbox = Outbox(timeout=0.05, on_failure=on_failure)
    done = threading.Event()

    def hang() -> None:
        release.wait(30)

    def after() -> None:
        done.set()

    outbox.submit("message", "hang", hang, "json://h")
    outbox.submit("heartbeat", "next", after, "https://h")
    assert counted.wait(10), "the hanging job was never given up"
    assert done.wait(10), "the job after the hanging one never ran"
    assert failures == ["message"]
    release.set()
    outbox.close(5)


@pytest.mark.parametrize(
    ("job", "why"),
    [
        (lambda: "answered 500", "answered 500"),
        (lambda: 1 / 0, "ZeroDivisionError"),
    ],
    ids=["refused", "raised"],
)
def test_outbox_counts_failed_jobs(job: Any, why: str, caplog: pytest.LogCaptureFixture) -> None:
    failures: list[str] = []
    outbox = Outbox(timeout=10, on_failure=failures.append)
    outbox.submit("heartbeat", "heartbeat https://…", job, "https://secret.example.test/uuid-1234")
    outbox.close(10)
    assert failures == ["heartbeat"]
    assert why in caplog.text and "uuid-1234" not in caplog.text
