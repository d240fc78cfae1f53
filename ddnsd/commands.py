"""One function per sub-command; ``cli.py`` parses, these do the work.

Every command returns its exit code (``ddnsd.errors``: 0 done / in sync, 1 failed,
2 bad usage or configuration, 3 work deferred by TransIP's rate limit) and reports a
failure as one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ddnsd import hostport, wiring
from ddnsd.errors import (
    EXIT_DEFERRED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    DdnsdError,
)

if TYPE_CHECKING:
    from typing import Any

    from ddnsd.acme.service import ChallengeService
    from ddnsd.config.models import Settings
    from ddnsd.observe.report import Reporter
    from ddnsd.reconcile.result import RoundResult

#: The most of ``/api/status`` that ``ddnsd status`` reads (the document is bounded far below).
STATUS_MAX = 4 * 1024 * 1024


def fail(message: str, problems: list[str] | None = None) -> None:
    """One clear error line (plus the list of problems, one per line) on stderr."""
    print(f"ddnsd: {message}", file=sys.stderr)
    for p in problems or []:
        print(f"  - {p}", file=sys.stderr)


def dispatch(args: argparse.Namespace) -> int:
    """Run the parsed sub-command (everything but the ACME hooks, see :func:`acme`)."""
    cmd = args.command
    if cmd == "emulator":
        from ddnsd.emulator.cli import run

        return run(args)
    if cmd == "demo":
        from ddnsd.demo import run_demo

        return run_demo(args.changes, Path(args.screenshot) if args.screenshot else None)
    if cmd == "config-schema":
        from ddnsd.config.schema import schema_markdown

        sys.stdout.write(schema_markdown())
        return EXIT_OK
    if cmd == "healthcheck":
        return healthcheck(args.config, args.url, args.timeout, ready=args.ready)
    try:
        settings = wiring.load_settings(args.config)
        if cmd == "check-config":
            return check_config(settings)
        if cmd == "ip":
            return show_ip(settings)
        if cmd == "once":
            return once(settings, dry_run=args.dry_run)
        if cmd == "status":
            return status(settings, as_json=args.json, url=args.url, timeout=args.timeout)
        if cmd == "run":
            from ddnsd.daemon import Daemon
            from ddnsd.startup import check_startup

            check_startup(settings)
            return Daemon(settings, args.config).run()
    except ConfigError as exc:
        fail(str(exc), exc.problems)
        return EXIT_USAGE
    except DdnsdError as exc:
        fail(str(exc))
        return EXIT_FAILED
    fail(f"unknown command {cmd!r}")
    return EXIT_USAGE


def check_config(settings: Settings) -> int:
    """Every start-up check but the network (a problem fails here, not at 3 a.m.), then
    the effective configuration."""
    from ddnsd.config.render import redacted, to_toml
    from ddnsd.startup import check_startup

    check_startup(settings)
    print(f"# effective configuration from {settings.source} (secrets redacted)")
    sys.stdout.write(to_toml(redacted(settings)))
    return EXIT_OK


def show_ip(settings: Settings) -> int:
    """What each source says and the agreed address per family; 1 when one did not agree."""
    ok = True
    agreements = wiring.detect(settings, wiring.make_detectors(settings), wait_all=True)
    for agreement in agreements.values():
        print(f"{agreement.family.label} (need {settings.detect.agree} to agree):")
        for rep in agreement.reports:
            said = rep.address if rep.address else f"failed: {rep.error}"
            print(f"  {rep.source:<40} {said}  ({rep.seconds * 1000:.0f} ms)")
        if agreement.address:
            print(f"  agreed: {agreement.address}")
        else:
            print("  agreed: none — DNS would be left unchanged")
            ok = False
    return EXIT_OK if ok else EXIT_FAILED


def once(settings: Settings, *, dry_run: bool = False) -> int:
    """One round: exit 0 when every record is in sync, 1 when one failed or conflicts,
    3 when TransIP's rate limit put records off (one line says how many, until when).

    The round goes through the reporter like a daemon's (status board, history,
    notifications, heartbeat); a dry run reports nothing. Like the daemon, it then sweeps
    the ACME journal (values killed hooks left); that never changes the exit code.
    """
    import time

    from ddnsd.model import Outcome

    if not settings.records:
        fail(f"no [[records]] in {settings.source}; nothing to keep in sync")
        return EXIT_USAGE
    client = wiring.make_client(settings)
    report = None if dry_run else _once_reporter(settings)
    now = time.time()
    try:
        if report is not None:
            report.round_started()
        agreements = wiring.detect(settings, wiring.make_detectors(settings))
        if report is not None:
            report.agreements(agreements, now)
        addresses = {rtype: a.address for rtype, a in agreements.items()}
        result = wiring.make_engine(settings, client, dry_run=dry_run).run_round(addresses)
    except DdnsdError as exc:
        if report is not None:
            report.round(now, None, error=str(exc))
            _finish(report)
        raise
    print_round(result)
    if not dry_run:  # the values killed hooks left, as the daemon's sweep would
        from ddnsd.acme.service import sweep_journal

        sweep_journal(
            wiring.prepared_state(settings),
            lambda: wiring.make_challenge_service(settings, client),
        )
    if report is not None:
        report.round(now, result, agreements)
        report.client(client)
        _finish(report)
    bad = [r for r in result.records.values() if r.outcome in (Outcome.FAILED, Outcome.CONFLICT)]
    if result.deferred and result.deferred_until is not None:
        until = result.deferred_until
        fail(
            f"{result.deferred} record(s) deferred until "
            f"{time.strftime('%H:%M:%S', time.localtime(until))} "
            f"(in {max(until - time.time(), 0):.0f} s): TransIP's rate limit for login "
            f"'{settings.transip.login}' (shared by every ddnsd process); run again after that"
        )
    if bad:
        return EXIT_FAILED
    return EXIT_DEFERRED if result.deferred else EXIT_OK


def _once_reporter(settings: Settings) -> Reporter:
    from ddnsd.observe.health import Health
    from ddnsd.observe.metrics import Metrics
    from ddnsd.sdnotify import Notifier

    health = Health(settings.schedule.interval)
    return wiring.make_reporter(settings, Metrics(process_metrics=False), health, Notifier(None))


def _finish(report: Reporter) -> None:
    report.status()
    report.close(grace=_grace(report))


def _grace(report: Reporter) -> float:
    """How long ``once`` waits for its notifications: one timeout, and a second."""
    notify = report.events.notify
    return notify.targets.timeout + 1.0 if notify is not None else 0.0


def status(settings: Settings, *, as_json: bool, url: str | None, timeout: float) -> int:
    """The summary of the running daemon (its ``/api/status``) or, when none answers, of
    the state dir; exit 0 when every record is in sync, 1 otherwise."""
    import json

    from ddnsd.observe.status_text import render_text

    doc, where = _daemon_status(settings, url, timeout)
    if doc is None:
        doc, where = _state_status(settings), f"the state dir {settings.state.dir} ({where})"
    if as_json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render_text(doc, where))
    return EXIT_OK if doc["in_sync"] else EXIT_FAILED


def _daemon_status(
    settings: Settings, url: str | None, timeout: float
) -> tuple[dict[str, Any] | None, str]:
    """(``/api/status`` of the daemon, where from) — (None, why) when no daemon answered."""
    import base64
    import json

    from ddnsd import outbound
    from ddnsd.config.credentials import status_auth

    if url is None:
        if not settings.http.listen:
            return None, "[http] listen is off, so no daemon can answer"
        url = local_url(settings.http.listen, "/api/status")
    headers = {"Accept": "application/json"}
    auth = status_auth(settings)
    if auth is not None:
        pair = f"{auth.username}:{auth.password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    try:
        status, body = outbound.get(url, timeout=timeout, max_body=STATUS_MAX, headers=headers)
    except outbound.NoAnswer as exc:
        return None, f"no daemon answered at {url}: {exc}"
    if status != 200:
        detail = body[:300].decode("utf-8", "replace").strip()
        raise DdnsdError(f"the daemon at {url} answered {status}: {detail}")
    try:
        return json.loads(body), f"the running daemon at {url}"
    except ValueError as exc:
        return None, f"no daemon answered at {url}: {exc}"


def _state_status(settings: Settings) -> dict[str, Any]:
    import time

    from ddnsd import __version__
    from ddnsd.observe.history import History
    from ddnsd.observe.status import StatusBoard, snapshot
    from ddnsd.statedir import StateDir

    state = StateDir(settings.state.dir)
    board = StatusBoard.load(state.file(StateDir.STATUS))
    events = History(state, settings.state.history_bytes).scan()  # one by one, not a list
    now = time.time()
    return snapshot(
        board.live(), events, now, version=__version__, daemon=None, set_aside=board.set_aside()
    )


def print_round(result: RoundResult, out: TextIO | None = None) -> None:
    for key, rec in result.records.items():
        print(f"{key:<40} {rec.outcome.value:<9} {rec.message}", file=out or sys.stdout)


def healthcheck(
    config_path: str | None, url: str | None, timeout: float, *, ready: bool = False
) -> int:
    """Exit 0 when the daemon's ``/healthz`` (alive) or, with ``ready``, ``/readyz`` (a
    successful round within twice the interval, a usable token) answers 200; the image's
    HEALTHCHECK asks the latter, so ``docker ps`` shows a daemon that cannot do its work
    as unhealthy."""
    from ddnsd import outbound

    if url is None:
        listen = "127.0.0.1:9333"
        # A container may run on env only; then the default listener is the best guess.
        with contextlib.suppress(ConfigError):
            listen = wiring.load_settings(config_path).http.listen or listen
        url = local_url(listen, "/readyz" if ready else "/healthz")
    try:
        status, _ = outbound.get(url, timeout=timeout)
    except outbound.NoAnswer as exc:
        fail(f"{url} did not answer: {exc}")
        return EXIT_FAILED
    if status == 200:
        return EXIT_OK
    fail(f"{url} answered {status}")
    return EXIT_FAILED


def local_url(listen: str, path: str) -> str:
    """The URL of ``path`` on the listener ``listen`` (a checked config value) from here."""
    return hostport.local_url(*hostport.parse_listen(listen), path)


def acme(command: str, rest: list[str], config_path: str | None, environ: dict[str, str]) -> int:
    """``present`` / ``cleanup`` / ``hook …`` in this process (no daemon answered: see
    ``cli._hook``): the ACME front doors through one dispatcher. The service (config, key,
    client) is built only when a handler has work to do."""
    from ddnsd.acme import hooks

    def factory() -> ChallengeService:
        try:
            settings = wiring.load_settings(config_path)
            events = wiring.hook_events(settings)  # the history; no notification from a hook
            return wiring.make_challenge_service(settings, events=events)
        except ConfigError as exc:
            fail(str(exc), exc.problems)
            raise SystemExit(EXIT_USAGE) from None

    return hooks.dispatch(command, rest, factory, environ)
