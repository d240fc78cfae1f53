"""Factories: configuration → TransIP client, detectors, engine, challenge service, web app.

The only module that knows every other one; commands and the daemon build their parts
here and nowhere else. Imports stay inside the functions, so a command loads only what
it uses (the ACME hooks never load the detectors or the web layer).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ddnsd.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any
    from wsgiref.types import WSGIApplication

    from ddnsd.acme.service import ChallengeService
    from ddnsd.config import Settings
    from ddnsd.config.hookconf import HookSettings
    from ddnsd.detect import Agreement, Detector, PushStore
    from ddnsd.model import RecordSpec
    from ddnsd.observe.events import EventSink
    from ddnsd.observe.health import Health
    from ddnsd.observe.metrics import Metrics
    from ddnsd.observe.report import EventLog, Reporter
    from ddnsd.reconcile.engine import Engine
    from ddnsd.sdnotify import Notifier
    from ddnsd.transip import Observer, TransipClient


def load_settings(config_path: str | None) -> Settings:
    from ddnsd import config

    return config.load(config_path)


def load_hook_settings(config_path: str | None) -> Settings | HookSettings:
    """What an ACME hook needs: read without the models when they are not needed to judge it."""
    from ddnsd.config.hookconf import load_for_hook

    return load_for_hook(config_path) or load_settings(config_path)


def state_dir(settings: Settings | HookSettings) -> Path:
    """The state directory, created (0700) if missing, without what killed processes left
    there; ConfigError when it cannot be created. Its files belong to its owner
    (statefiles.py)."""
    from ddnsd import statefiles
    from ddnsd.acme.inflight import WriteLocks

    d = settings.state.dir
    try:
        statefiles.make_dir(d)
    except OSError as exc:
        raise ConfigError(
            f"state.dir: cannot create {d}: {exc.strerror}; set [state] dir to a writable directory"
        ) from exc
    if d not in _swept:  # once per process: litter is what earlier processes left
        _swept.add(d)
        statefiles.remove_litter(d, unheld_lock=WriteLocks(d).unheld)
    return d


_swept: set[Path] = set()  # state dirs whose litter this process removed


def make_client(
    settings: Settings | HookSettings,
    observer: Observer | None = None,
    on_deferred: Callable[[str, float], None] | None = None,
    *,
    cache: bool = True,
) -> TransipClient:
    """The client of this configuration, with the request budget of its login shared by
    every ddnsd process through the state dir (``on_deferred(kind, until)`` hears each
    time it makes work wait). Its requests are "ddns" work; see ``for_kind``.
    ``cache=False`` neither creates the state dir nor keeps a token or a shared budget."""
    from ddnsd.transip.budget import DDNS, Budget
    from ddnsd.transip.client import make_client as _make

    t = settings.transip
    budget = Budget(
        state_dir(settings) if cache else None,
        login=t.login or f"(token in {t.access_token_file})",
        api_url=t.api_url,
        window=t.rate_limit_window,
        acme_reserve=t.acme_reserve,
        on_deferred=on_deferred,
    )
    return _make(
        t.api_url,
        t.login,
        t.private_key_file,
        insecure_key_permissions=t.insecure_key_permissions,
        global_key=t.global_key,
        test_mode=t.test_mode,
        cache_dir=state_dir(settings) if t.token_cache and cache else None,
        timeout=t.timeout,
        observer=observer,
        access_token_file=t.access_token_file,
        expiration_time=t.token_lifetime,
        budget=budget,
        kind=DDNS,
    )


def record_specs(settings: Settings) -> list[RecordSpec]:
    from ddnsd.model import RecordSpec

    return [
        RecordSpec(
            domain=r.domain,
            name=r.name,
            type=r.type,
            ttl=r.ttl,
            exclusive=r.exclusive,
            ipv6_host=r.ipv6_host,
        )
        for r in settings.records
    ]


def families(settings: Settings) -> list[str]:
    """Record types configured, in a stable order ("A" before "AAAA")."""
    return [t for t in ("A", "AAAA") if any(r.type == t for r in settings.records)]


def make_detectors(
    settings: Settings, push_store: PushStore | None = None
) -> dict[str, list[Detector]]:
    """The address sources per record type ("A"/"AAAA"); ConfigError names a bad source."""
    from ddnsd.detect import make_detector

    d = settings.detect
    out: dict[str, list[Detector]] = {}
    for rtype in families(settings) or ["A", "AAAA"]:
        key, sources = ("ipv4", d.ipv4) if rtype == "A" else ("ipv6", d.ipv6)
        out[rtype] = []
        for i, spec in enumerate(sources):
            try:
                detector = make_detector(
                    spec, timeout=d.timeout, allow_private=d.allow_private, push_store=push_store
                )
            except ValueError as exc:
                raise ConfigError(f"detect.{key}[{i}]: {exc}") from None
            out[rtype].append(detector)
    return out


def watched_interfaces(settings: Settings) -> set[str]:
    """The interfaces of the ``iface:`` sources (the daemon watches them over netlink)."""
    if not settings.records:
        return set()
    detect = settings.detect
    return {spec.arg for spec in detect.ipv4 + detect.ipv6 if spec.kind == "iface"}


def detect(
    settings: Settings, detectors: dict[str, list[Detector]], *, wait_all: bool = False
) -> dict[str, Agreement]:
    """Ask every family's sources; the agreement per record type ("A"/"AAAA")."""
    from ddnsd.detect import Family, detect_agreed

    return {
        rtype: detect_agreed(
            dets,
            Family.from_record_type(rtype),
            settings.detect.agree,
            settings.detect.timeout,
            wait_all=wait_all,
        )
        for rtype, dets in detectors.items()
    }


def make_engine(settings: Settings, client: TransipClient, *, dry_run: bool = False) -> Engine:
    """The reconcile engine on the "ddns" view of ``client``; its memory is shared by
    ``run`` and ``once`` through the state dir (kept in the process for a dry run or test
    mode, whose writes never happen)."""
    from ddnsd.reconcile.engine import Engine
    from ddnsd.reconcile.memory import Memory
    from ddnsd.transip.budget import DDNS

    specs = record_specs(settings)
    ddns = client.for_kind(DDNS)
    persist = not (dry_run or settings.transip.test_mode)
    memory = Memory(
        state_dir(settings) if persist else None,
        [s.key for s in specs],
        {s.domain for s in specs},
    )
    return Engine(
        ddns,
        specs,
        nameservers=settings.dns.nameservers or None,
        propagation_grace=settings.schedule.propagation_grace,
        verify_interval=settings.schedule.verify,
        dry_run=dry_run,
        memory=memory,
        budget=ddns.budget_until,
    )


def make_challenge_service(
    settings: Settings | HookSettings,
    client: TransipClient | None = None,
    observer: Observer | None = None,
    *,
    events: EventSink | None = None,
) -> ChallengeService:
    from ddnsd.acme.inflight import landing_window
    from ddnsd.acme.service import ChallengeService
    from ddnsd.transip.budget import ACME

    a = settings.acme
    return ChallengeService(
        (client or make_client(settings, observer)).for_kind(ACME),
        state_dir=state_dir(settings),
        zones=a.zones,
        nameservers=settings.dns.nameservers or None,
        propagation_timeout=a.propagation_timeout,
        poll_interval=a.poll_interval,
        max_age=a.max_age,
        cname_follow=a.cname_follow,
        expire=a.expire,
        events=events,
        write_window=landing_window(settings.transip.timeout),
    )


def serves_acme(settings: Settings) -> bool:
    """The daemon serves ACME over HTTP (lego httpreq or acme-dns accounts)."""
    return settings.acme.httpreq is not None or bool(settings.acme.accounts)


def make_web_app(
    settings: Settings,
    *,
    metrics: Metrics,
    health: Health,
    acme: ChallengeService | None,
    push_store: PushStore,
    status: Callable[[], dict[str, Any]] | None = None,
) -> WSGIApplication:
    """The HTTP app of this configuration: metrics, health, and the parts configured."""
    from ddnsd.config import web_auth
    from ddnsd.web.app import make_app

    auth = web_auth(settings)  # every secret read here, by config
    return make_app(
        metrics=metrics,
        health=health,
        acme=acme,
        httpreq=auth.httpreq,
        acmedns_accounts=list(auth.acmedns),
        dyndns=auth.dyndns,
        push_store=push_store,
        status=status,
        status_auth=auth.status,
    )


def make_event_log(
    settings: Settings, *, on_failure: Callable[[str], None] | None = None
) -> EventLog:
    """History in the state dir and the notifications ``[notify]`` asks for.

    Apprise is imported only when ``[notify] urls`` lists something (ConfigError for a URL
    it does not know). ``on_failure(kind)`` counts a send that failed.
    """
    from ddnsd.config import notify_targets
    from ddnsd.observe.report import EventLog

    history = hook_events(settings).history
    targets = notify_targets(settings)
    if not targets.active:
        return EventLog(history)
    from ddnsd.observe.notify import Notifications
    from ddnsd.observe.outbox import Outbox

    outbox = Outbox(targets.timeout, on_failure or (lambda kind: None))
    try:
        return EventLog(history, Notifications(targets, outbox))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def hook_events(settings: Settings | HookSettings) -> EventLog:
    """The history alone: what a hook process reports (it sends no notification, so it
    never loads Apprise)."""
    from ddnsd.observe.history import History
    from ddnsd.observe.report import EventLog

    return EventLog(History(settings.state.dir, settings.state.history_bytes))


def make_reporter(
    settings: Settings, metrics: Metrics, health: Health, notifier: Notifier
) -> Reporter:
    """The reporter of ``run`` and ``once``: metrics, health, sd_notify, status board, events."""
    from ddnsd.observe.report import Reporter
    from ddnsd.observe.status import STATUS_FILE, StatusBoard

    board = StatusBoard.load(settings.state.dir / STATUS_FILE)
    report = Reporter(metrics, health, notifier, board=board)
    report.events = make_event_log(settings, on_failure=report.notify_failed)
    return report
