"""Factories: configuration → TransIP client, detectors, engine, challenge service, web app.

The only module that knows every other one; commands and the daemon build their parts
here and nowhere else. Imports stay inside the functions, so a command loads only what
it uses (the ACME hooks never load the detectors or the web layer).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ddnsd.errors import ConfigError

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

    from ddnsd.acme.service import ChallengeService
    from ddnsd.config import Settings
    from ddnsd.detect import Agreement, Detector, PushStore
    from ddnsd.model import RecordSpec
    from ddnsd.observe.health import Health
    from ddnsd.observe.metrics import Metrics
    from ddnsd.reconcile.engine import Engine
    from ddnsd.transip import Observer, TransipClient


def load_settings(config_path: str | None) -> Settings:
    from ddnsd import config

    return config.load(config_path)


def state_dir(settings: Settings) -> Path:
    """The state directory, created (0700) if missing, without what killed processes left
    there (statefiles.py); ConfigError when it cannot be created."""
    from ddnsd.statefiles import remove_litter

    d = settings.state.dir
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"state.dir: cannot create {d}: {exc.strerror}; set [state] dir to a writable directory"
        ) from exc
    remove_litter(d)
    return d


def make_client(settings: Settings, observer: Observer | None = None) -> TransipClient:
    from ddnsd.transip.client import make_client as _make

    t = settings.transip
    return _make(
        t.api_url,
        t.login,
        t.private_key_file,
        insecure_key_permissions=t.insecure_key_permissions,
        global_key=t.global_key,
        test_mode=t.test_mode,
        cache_dir=state_dir(settings) if t.token_cache else None,
        timeout=t.timeout,
        observer=observer,
        access_token_file=t.access_token_file,
        expiration_time=t.token_lifetime,
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
    """The address sources per record type ("A"/"AAAA"); ValueError names a bad source."""
    from ddnsd.detect import make_detector

    d = settings.detect
    out: dict[str, list[Detector]] = {}
    for rtype in families(settings) or ["A", "AAAA"]:
        sources = d.ipv4 if rtype == "A" else d.ipv6
        out[rtype] = [
            make_detector(
                s, timeout=d.timeout, allow_private=d.allow_private, push_store=push_store
            )
            for s in sources
        ]
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
    from ddnsd.reconcile.engine import Engine

    return Engine(
        client,
        record_specs(settings),
        nameservers=settings.dns.nameservers or None,
        propagation_grace=settings.schedule.propagation_grace,
        verify_interval=settings.schedule.verify,
        dry_run=dry_run,
    )


def make_challenge_service(
    settings: Settings, client: TransipClient | None = None, observer: Observer | None = None
) -> ChallengeService:
    from ddnsd.acme.inflight import landing_window
    from ddnsd.acme.service import ChallengeService

    a = settings.acme
    return ChallengeService(
        client or make_client(settings, observer),
        state_dir=state_dir(settings),
        zones=a.zones,
        nameservers=settings.dns.nameservers or None,
        propagation_timeout=a.propagation_timeout,
        poll_interval=a.poll_interval,
        max_age=a.max_age,
        cname_follow=a.cname_follow,
        expire=a.expire,
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
    )
