"""Factories: configuration → TransIP client, detectors, engine, challenge service, web app.

The only module that knows every other one; commands and the daemon build their parts
here and nowhere else. Imports stay inside the functions, so a command loads only what
it uses (the ACME hooks never load the detectors or the web layer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ddnsd.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any
    from wsgiref.types import WSGIApplication

    from ddnsd.acme.service import ChallengeService
    from ddnsd.config.models import Settings
    from ddnsd.detect.agree import Agreement
    from ddnsd.detect.base import Detector
    from ddnsd.detect.push import PushStore
    from ddnsd.model import RecordSpec
    from ddnsd.observe.events import EventSink
    from ddnsd.observe.health import Health
    from ddnsd.observe.metrics import Metrics
    from ddnsd.observe.report import EventLog, Reporter
    from ddnsd.reconcile.engine import Engine
    from ddnsd.sdnotify import Notifier
    from ddnsd.statedir import StateDir
    from ddnsd.transip.client import TransipClient
    from ddnsd.transip.transport import Observer


def load_settings(config_path: str | None) -> Settings:
    from ddnsd.config.read import load

    return load(config_path)


def prepared_state(settings: Settings) -> StateDir:
    """The state directory, prepared (``StateDir.prepare``: created 0700 if missing, without
    what killed processes left there); ConfigError when it cannot be created."""
    from ddnsd.acme.inflight import WriteLocks
    from ddnsd.statedir import StateDir

    state = StateDir(settings.state.dir)
    try:
        return state.prepare(unheld_lock=WriteLocks(state).unheld)
    except OSError as exc:
        raise ConfigError(
            f"state.dir: cannot create {state.path}: {exc.strerror}; set [state] dir to a "
            "writable directory"
        ) from exc


def make_client(
    settings: Settings,
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
        prepared_state(settings) if cache else None,
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
        cache_dir=prepared_state(settings).path if t.token_cache and cache else None,
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
    from ddnsd.detect.sources import make_detector

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
    from ddnsd.detect.agree import detect_agreed
    from ddnsd.detect.base import Family

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
        prepared_state(settings) if persist else None,
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
    settings: Settings,
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
        state=prepared_state(settings),
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
    from ddnsd.config.credentials import web_auth
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


def make_external_dns_app(settings: Settings, client: TransipClient) -> WSGIApplication:
    """external-dns's webhook API (``[external_dns]``) over ``client``; its requests are
    "ddns" work in the budget."""
    from ddnsd.acme.domains import AccountDomains
    from ddnsd.acme.inflight import landing_window
    from ddnsd.externaldns.app import make_app
    from ddnsd.externaldns.mapping import Policy
    from ddnsd.externaldns.provider import Protected, Provider
    from ddnsd.externaldns.view import ZoneView

    x = settings.external_dns
    account = AccountDomains(client, prepared_state(settings), zones=x.domains)
    protected = Protected(
        records=frozenset((s.fqdn, s.type) for s in record_specs(settings)),
        challenges=frozenset(a.fqdn for a in settings.acme.accounts),
    )
    provider = Provider(
        client,
        account.allowed_zones,
        ZoneView(client, x.refresh),
        Policy(min_ttl=x.min_ttl, default_ttl=x.default_ttl),
        protected,
        landing=landing_window(settings.transip.timeout),
    )
    return make_app(provider)


def make_event_log(
    settings: Settings, *, on_failure: Callable[[str], None] | None = None
) -> EventLog:
    """History in the state dir and the notifications ``[notify]`` asks for.

    Apprise is imported only when ``[notify] urls`` lists something (ConfigError for a URL
    it does not know). ``on_failure(kind)`` counts a send that failed.
    """
    from ddnsd.config.credentials import notify_targets
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


def hook_events(settings: Settings) -> EventLog:
    """The history alone: what a hook process reports (it sends no notification, so it
    never loads Apprise)."""
    from ddnsd.observe.history import History
    from ddnsd.observe.report import EventLog
    from ddnsd.statedir import StateDir

    return EventLog(History(StateDir(settings.state.dir), settings.state.history_bytes))


def make_reporter(
    settings: Settings, metrics: Metrics, health: Health, notifier: Notifier
) -> Reporter:
    """The reporter of ``run`` and ``once``: metrics, health, sd_notify, status board, events."""
    from ddnsd.observe.report import Reporter
    from ddnsd.observe.status import StatusBoard
    from ddnsd.statedir import StateDir

    board = StatusBoard.load(StateDir(settings.state.dir).file(StateDir.STATUS))
    report = Reporter(metrics, health, notifier, board=board)
    report.events = make_event_log(settings, on_failure=report.notify_failed)
    return report
