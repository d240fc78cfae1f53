"""Sending off the round's thread: a queue, one worker, a timeout for each send.

:class:`Outbox` runs each job (an Apprise message, a heartbeat ping) on a thread of its
own and waits at most ``timeout`` seconds for it: a receiver that hangs costs that
much of the worker's time, never a round's. A job that fails, raises or runs out of time
is logged (one sentence, the URL redacted to its scheme) and passed to ``on_failure``
(the ``ddnsd_notify_failures_total`` counter); the queue holds 100 jobs, more are
dropped and counted the same way.

Apprise is imported by :class:`AppriseTarget` only, i.e. only when ``[notify] urls``
lists something. Its own log lines never reach ddnsd's log as they are (they may quote
the URL whole): every call into Apprise runs in :func:`_apprise_lines`, which captures
them; a failed send's are scrubbed of the URL's parts and folded into ours.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ddnsd import outbound
from ddnsd.config.runtime import redact_url

log = logging.getLogger(__name__)

#: A job returns None when it worked, else why not (one sentence, no secret).
Job = Callable[[], "str | None"]


def scrub(text: str, url: str) -> str:
    """``text`` with every part of ``url`` that could be secret replaced by ``…``."""
    parts = urlsplit(url)
    secrets = {url, parts.netloc, parts.username or "", parts.password or "", parts.hostname or ""}
    secrets |= set(parts.path.split("/")) | {v for _, v in parse_qsl(parts.query)}
    for s in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(s, "…")
    return text


def ping(url: str, timeout: float) -> str | None:
    """GET ``url`` (a heartbeat) through :mod:`ddnsd.outbound` (the environment's CA bundle
    and proxy apply); None when it answered 2xx. The answer's body is not read."""
    try:
        status, _ = outbound.get(url, timeout=timeout)
    except outbound.NoAnswer as exc:
        return scrub(str(exc), url)
    return None if 200 <= status < 300 else f"answered {status}"


def _apprise() -> Any:
    """The Apprise module, its logger no longer passing lines on to ours (for good: one
    may quote a URL whole, "Unparseable URL foo://token@…", at any level, from any thread;
    Apprise gives its logger a NullHandler). Untyped in Apprise."""
    logging.getLogger("apprise").propagate = False
    import apprise

    return apprise


@contextmanager
def _apprise_lines(url: str) -> Iterator[list[str]]:
    """Apprise's WARNING and worse lines while the block runs, scrubbed of ``url``'s parts
    (filled in when the block ends)."""
    lines: list[str] = []
    with _apprise().LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        yield lines
    lines += [scrub(ln, url) for ln in str(captured.getvalue()).splitlines() if ln.strip()]


class AppriseTarget:
    """One Apprise URL, checked when built (ValueError naming it by number, not by text)."""

    def __init__(self, number: int, url: str) -> None:
        self.url = url
        self.label = f"{number} ({redact_url(url)})"
        with _apprise_lines(url):
            self._apprise = _apprise().Apprise()
            known = self._apprise.add(url)
        if not known:
            raise ValueError(
                f"notify.urls[{number - 1}] ({redact_url(url)}) is not a URL Apprise knows; "
                "see https://github.com/caronc/apprise/wiki for the forms"
            )

    def send(self, title: str, body: str) -> str | None:
        with _apprise_lines(self.url) as lines:
            ok = self._apprise.notify(body=body, title=title)
        if ok:
            return None
        return "; ".join(lines[-2:]) or "Apprise reported a failure"


@dataclass
class _Item:
    kind: str  # "message" or "heartbeat": the metric's label
    label: str  # what it is, secrets redacted
    job: Job
    url: str  # scrubbed from every failure text


class Outbox:
    """A queue of jobs and the worker that runs them, each within ``timeout`` seconds."""

    def __init__(
        self, timeout: float, on_failure: Callable[[str], None], *, size: int = 100
    ) -> None:
        self.timeout = timeout
        self.on_failure = on_failure
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=size)
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False

    def submit(self, kind: str, label: str, job: Job, url: str) -> None:
        """Queue ``job`` (sending to ``url``); returns at once (a full queue drops it,
        logged and counted)."""
        with self._lock:
            if self._closed:
                return
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="ddnsd-notify", daemon=True)
                self._worker.start()
        try:
            self._queue.put_nowait(_Item(kind, label, job, url))
        except queue.Full:
            self._failed(_Item(kind, label, job, url), "dropped: 100 sends are already waiting")

    def close(self, grace: float) -> None:
        """Send what is queued, waiting at most ``grace`` seconds; then stop the worker."""
        with self._lock:
            self._closed = True
            worker = self._worker
        if worker is None:
            return
        deadline = time.monotonic() + grace
        while worker.is_alive():
            try:
                self._queue.put(None, timeout=max(0.01, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    return
        worker.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._run(item)

    def _run(self, item: _Item) -> None:
        result: list[str | None] = []

        def target() -> None:
            try:
                result.append(item.job())
            except Exception as exc:  # a bug or a library surprise: never the round's problem
                result.append(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=target, name="ddnsd-notify-send", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            self._failed(item, f"no answer within {self.timeout:g} s")
        elif result and result[0] is not None:
            self._failed(item, result[0])
        else:
            log.debug("%s sent", item.label)

    def _failed(self, item: _Item, why: str) -> None:
        log.warning("%s failed: %s", item.label, scrub(why, item.url))
        try:
            self.on_failure(item.kind)
        except Exception:  # counting must not stop the worker
            log.exception("counting a failed %s", item.kind)
