"""Composition root: the one place that wires config → client → detectors → engine →
scheduler → http. Every other module takes plain parameters.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ddnsd.errors import ConfigError, DdnsdError

if TYPE_CHECKING:
    from ddnsd.acme.service import ChallengeService
    from ddnsd.config import Settings
    from ddnsd.detect.base import Detector
    from ddnsd.model import RecordSpec
    from ddnsd.observe.metrics import Metrics
    from ddnsd.reconcile.engine import Engine, RoundResult
    from ddnsd.transip.client import TransipClient

log = logging.getLogger("ddnsd")

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


# --------------------------------------------------------------------------- helpers


def fail(message: str, problems: list[str] | None = None) -> None:
    """One clear error line (plus the list of problems, one per line) on stderr."""
    print(f"ddnsd: {message}", file=sys.stderr)
    for p in problems or []:
        print(f"  - {p}", file=sys.stderr)


def load_settings(config_path: str | None) -> Settings:
    from ddnsd import config

    return config.load(config_path)


def state_dir(settings: Settings) -> Path:
    d = settings.state.dir
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"state.dir: cannot create {d}: {exc.strerror}; set [state] dir to a writable directory"
        ) from exc
    return d


def make_client(
    settings: Settings, observer: Callable[[str, str, int, float], None] | None = None
) -> TransipClient:
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


def make_detectors(settings: Settings, push_store: Any = None) -> dict[str, list[Detector]]:
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


def detect_addresses(
    settings: Settings, detectors: dict[str, list[Detector]], metrics: Metrics | None = None
) -> dict[str, str | None]:
    """The agreed address per record type ("A"/"AAAA"); None where sources did not agree."""
    from ddnsd.detect import Family, detect_agreed

    addresses: dict[str, str | None] = {}
    for rtype, dets in detectors.items():
        family = Family.from_record_type(rtype)
        agreement = detect_agreed(dets, family, settings.detect.agree, settings.detect.timeout)
        addresses[rtype] = agreement.address  # detect_agreed logs why when it is None
        if metrics is not None:
            label = f"ipv{family.value}"
            metrics.set_detected_address(label, agreement.address)
            if agreement.disagreement:
                metrics.detection_disagreements.labels(family=label).inc()
            for rep in agreement.reports:
                if not rep.ok:
                    metrics.source_failures.labels(source=rep.source).inc()
    return addresses


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
    settings: Settings, client: TransipClient | None = None, metrics: Metrics | None = None
) -> ChallengeService:
    from ddnsd.acme.service import ChallengeService

    a = settings.acme
    svc = ChallengeService(
        client or make_client(settings, metrics.observe_api if metrics else None),
        state_dir=state_dir(settings),
        zones=a.zones,
        nameservers=settings.dns.nameservers or None,
        propagation_timeout=a.propagation_timeout,
        poll_interval=a.poll_interval,
        max_age=a.max_age,
        cname_follow=a.cname_follow,
        expire=a.expire,
    )
    return svc


def print_round(result: RoundResult, out: Any = None) -> None:
    out = out or sys.stdout
    for key, rec in result.records.items():
        print(f"{key:<40} {rec.outcome.value:<9} {rec.message}", file=out)


# --------------------------------------------------------------------------- commands


def dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "emulator":
        from ddnsd.emulator.cli import run

        return run(args)
    if cmd == "demo":
        from ddnsd.demo import run_demo

        return run_demo(changes=args.changes)
    if cmd == "config-schema":
        from ddnsd.config import schema_markdown

        sys.stdout.write(schema_markdown())
        return EXIT_OK
    if cmd == "healthcheck":
        return healthcheck(args.config, args.url, args.timeout)
    try:
        settings = load_settings(args.config)
        if cmd == "check-config":
            return check_config(settings)
        if cmd == "ip":
            return show_ip(settings)
        if cmd == "once":
            return once(settings, dry_run=args.dry_run)
        if cmd == "run":
            return Daemon(settings, args.config).run()
    except ConfigError as exc:
        fail(str(exc), exc.problems)
        return EXIT_USAGE
    except DdnsdError as exc:
        fail(str(exc))
        return EXIT_FAIL
    fail(f"unknown command {cmd!r}")
    return EXIT_USAGE


def check_config(settings: Settings) -> int:
    from ddnsd import config

    if settings.records:
        make_detectors(settings)  # builds every source: a bad one fails here, not at 3 a.m.
    print(f"# effective configuration from {settings.source} (secrets redacted)")
    sys.stdout.write(config.to_toml(config.redacted(settings)))
    return EXIT_OK


def show_ip(settings: Settings) -> int:
    from ddnsd.detect import Family, detect_agreed

    ok = True
    for rtype, dets in make_detectors(settings).items():
        family = Family.from_record_type(rtype)
        agreement = detect_agreed(
            dets, family, settings.detect.agree, settings.detect.timeout, wait_all=True
        )
        print(f"{family.label} (need {settings.detect.agree} to agree):")
        for rep in agreement.reports:
            said = rep.address if rep.address else f"failed: {rep.error}"
            print(f"  {rep.source:<40} {said}  ({rep.seconds * 1000:.0f} ms)")
        if agreement.address:
            print(f"  agreed: {agreement.address}")
        else:
            print("  agreed: none — DNS would be left unchanged")
            ok = False
    return EXIT_OK if ok else EXIT_FAIL


def once(settings: Settings, *, dry_run: bool = False) -> int:
    from ddnsd.model import Outcome

    if not settings.records:
        fail(f"no [[records]] in {settings.source}; nothing to keep in sync")
        return EXIT_USAGE
    client = make_client(settings)
    detectors = make_detectors(settings)
    addresses = detect_addresses(settings, detectors)
    result = make_engine(settings, client, dry_run=dry_run).run_round(addresses)
    print_round(result)
    bad = [r for r in result.records.values() if r.outcome in (Outcome.FAILED, Outcome.CONFLICT)]
    return EXIT_FAIL if bad else EXIT_OK


def healthcheck(config_path: str | None, url: str | None, timeout: float) -> int:
    import urllib.request

    if url is None:
        listen = "127.0.0.1:9333"
        # A container may run on env only; then the default listener is the best guess.
        with contextlib.suppress(ConfigError):
            listen = load_settings(config_path).http.listen or listen
        host, _, port = listen.rpartition(":")
        if host in ("", "0.0.0.0", "[::]"):
            host = "127.0.0.1" if host != "[::]" else "[::1]"
        url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            if resp.status == 200:
                return EXIT_OK
            fail(f"{url} answered {resp.status}")
    except OSError as exc:
        fail(f"{url} did not answer: {exc}")
    return EXIT_FAIL


def acme_command(command: str, rest: list[str], config_path: str | None) -> int:
    """present / cleanup / hook …: the ACME front doors (fast start, lazy imports)."""
    from ddnsd.acme import hooks

    def factory() -> ChallengeService:
        try:
            settings = load_settings(config_path)
            svc = make_challenge_service(settings)
        except ConfigError as exc:
            fail(str(exc), exc.problems)
            raise SystemExit(EXIT_USAGE) from None
        return svc  # the hooks sweep stale journal entries themselves

    if command in ("present", "cleanup"):
        return hooks.lego_exec(command, rest, factory)
    kind, args = (rest[0], rest[1:]) if rest else ("", [])
    if kind in ("certbot-auth", "certbot-cleanup"):
        from ddnsd.config import hook_environ

        return hooks.certbot(kind.removeprefix("certbot-"), hook_environ(), factory)
    if kind == "dehydrated":
        return hooks.dehydrated(args, factory)
    fail("usage: ddnsd hook certbot-auth | certbot-cleanup | dehydrated HANDLER ARGS…")
    return EXIT_USAGE


# --------------------------------------------------------------------------- daemon


class Daemon:
    """``ddnsd run``: rounds on a schedule, on netlink events and on router pushes."""

    def __init__(self, settings: Settings, config_path: str | None) -> None:
        from ddnsd.config import process_env
        from ddnsd.detect.push import PushStore
        from ddnsd.observe.health import Health
        from ddnsd.observe.metrics import Metrics
        from ddnsd.sdnotify import Notifier

        self.config_path = config_path
        self.settings = settings
        self.metrics = Metrics()
        self.health = Health(settings.schedule.interval)
        self.push_store = PushStore(on_change=self._pushed)
        self.notifier = Notifier(process_env("NOTIFY_SOCKET"), process_env("WATCHDOG_USEC"))
        self._stop = threading.Event()
        self._round_lock = threading.Lock()
        self._reload_requested = False
        self._build(settings)

    # -- wiring that a reload redoes
    def _build(self, settings: Settings) -> None:
        self.client = make_client(settings, self.metrics.observe_api)
        self.detectors = make_detectors(settings, self.push_store) if settings.records else {}
        self.engine = make_engine(settings, self.client) if settings.records else None
        self.acme: ChallengeService | None = None
        if settings.acme.httpreq is not None or settings.acme.accounts:
            self.acme = make_challenge_service(settings, self.client, self.metrics)
            self.acme.cleanup_stale()
        self.settings = settings

    def _web_app(self) -> Any:
        from ddnsd.config import read_secret
        from ddnsd.config.runtime import AcmeDnsAccount, DyndnsEndpoint, HttpreqAuth
        from ddnsd.web.app import make_app

        s = self.settings
        httpreq = None
        if s.acme.httpreq is not None:
            h = s.acme.httpreq
            httpreq = HttpreqAuth(
                base=h.base, username=h.username, password=read_secret(h.password_file, h.password)
            )
        accounts = [
            AcmeDnsAccount(
                username=a.username,
                password=read_secret(a.password_file, a.password),
                fqdn=a.fqdn,
            )
            for a in s.acme.accounts
        ]
        dyndns = None
        if s.dyndns is not None and s.dyndns.username:
            d = s.dyndns
            hostnames = set(d.hostnames) or {r.fqdn for r in record_specs(s)}
            dyndns = DyndnsEndpoint(
                username=d.username,
                password=read_secret(d.password_file, d.password),
                hostnames=frozenset(hostnames),
            )
        return make_app(
            metrics=self.metrics,
            health=self.health,
            acme=self.acme,
            httpreq=httpreq,
            acmedns_accounts=accounts,
            dyndns=dyndns,
            push_store=self.push_store,
        )

    _wsgi: Any = None

    def _serve_current(self, environ: Any, start_response: Any) -> Any:
        """The listener's WSGI entry: always the app of the current configuration."""
        return self._wsgi(environ, start_response)

    # -- one round
    def round(self) -> bool:
        with self._round_lock:
            if self._reload_requested:
                self._reload()
            now = time.time()
            if self.engine is None:  # ACME-only daemon: nothing to keep in sync
                self.health.record_round(True, now)
                self.metrics.observe_round(True, now)
                return True
            try:
                addresses = detect_addresses(self.settings, self.detectors, self.metrics)
                result = self.engine.run_round(addresses)
            except DdnsdError as exc:
                log.error("round failed: %s", exc)
                self.health.record_round(False, now)
                self.metrics.observe_round(False, now)
                self.notifier.status(self.health.status_line())
                return False
            for key, rec in result.records.items():
                self.metrics.record_outcome(key, rec.outcome)
            ok = result.ok and all(a is not None for a in addresses.values())
            self.health.record_round(ok, now, outcomes=result.outcomes)
            self.metrics.observe_round(ok, now)
            self._observe_client()
            self.notifier.status(self.health.status_line())
            return ok

    def _observe_client(self) -> None:
        expires = self.client.auth.expires_at()
        if expires is not None:
            self.metrics.token_expiry.set(expires)
        remaining = self.client.rate_limit.remaining
        if remaining is not None:
            self.metrics.transip_rate_limit_remaining.set(remaining)

    def _renew_token(self) -> None:
        try:
            self.client.auth.token()
            self.health.set_token_ok(True)
            self._observe_client()
        except DdnsdError as exc:
            log.error("token renewal failed: %s", exc)
            self.health.set_token_ok(False)

    def _sweep_journal(self) -> None:
        """Remove challenge TXT entries a crashed hook left behind (older than max_age)."""
        service = self.acme
        if service is None:
            # No HTTP ACME here, but hooks on this machine may share the state dir.
            from ddnsd.acme.journal import Journal

            if not Journal(self.settings.state.dir).entries():
                return
            service = make_challenge_service(self.settings, self.client, self.metrics)
        try:
            removed = service.cleanup_stale()
            if removed:
                log.info(
                    "removed %d stale ACME challenge entr%s",
                    removed,
                    "y" if removed == 1 else "ies",
                )
        except DdnsdError as exc:
            log.warning("stale ACME entries not removed yet: %s", exc)

    def _reload(self) -> None:
        self._reload_requested = False
        try:
            settings = load_settings(self.config_path)
            old = self.settings
            self._build(settings)
            if self._wsgi is not None:
                self._wsgi = self._web_app()
                if settings.http.listen != old.http.listen:
                    log.warning(
                        "[http] listen changed to %r: restart ddnsd to move the listener "
                        "(still on %r)",
                        settings.http.listen,
                        old.http.listen,
                    )
            self.health.interval = settings.schedule.interval
            if self._scheduler is not None:
                self._update_watcher()
                self._scheduler.reschedule(settings.schedule.interval, settings.schedule.jitter)
            log.info("configuration reloaded from %s", settings.source)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)
            for p in exc.problems:
                log.error("  - %s", p)
        except DdnsdError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)

    def _pushed(self) -> None:
        if self._scheduler is not None:
            self._scheduler.trigger("router push")

    # -- lifecycle
    _scheduler: Any = None

    def run(self) -> int:
        from ddnsd.scheduler import Scheduler

        s = self.settings
        server = None
        if s.http.listen:
            from ddnsd.web.server import serve

            self._wsgi = self._web_app()
            server = serve(self._serve_current, s.http.listen)
            log.info("http: %s (/metrics /healthz /readyz)", server.url)
        self._update_watcher()
        first_done = threading.Event()
        first_ok: list[bool] = []

        def round_job() -> bool:
            ok = self.round()
            if not first_done.is_set():
                first_ok.append(ok)
                first_done.set()
            return ok

        self._scheduler = Scheduler(
            round_job,
            interval=s.schedule.interval,
            jitter=s.schedule.jitter,
            periodic={
                "token": (self._renew_token, min(300.0, s.schedule.interval)),
                "acme-sweep": (self._sweep_journal, max(60.0, s.acme.max_age / 4)),
            },
        )

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if signum == signal.SIGHUP:
                log.info("SIGHUP: reloading configuration before the next round")
                self._reload_requested = True
                self._scheduler.trigger("reload")
            elif signum == signal.SIGUSR1:
                self._scheduler.trigger("SIGUSR1")
            else:
                self._stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(sig, on_signal)
        self._scheduler.start()
        if not s.records and self.acme is None and s.dyndns is None:
            log.warning(
                "nothing to do: %s has no [[records]], no [acme.httpreq] / [[acme.accounts]] "
                "and no [dyndns]; serving metrics and health only",
                s.source,
            )
        log.info(
            "ddnsd running: %d record(s), round every %.0f s",
            len(s.records),
            s.schedule.interval,
        )
        while not self._stop.is_set() and not first_done.wait(0.2):
            pass
        if first_done.is_set():
            self.notifier.ready(self.health.status_line())
            self.notifier.start_watchdog(lambda: not self._stop.is_set())
        while not self._stop.wait(1.0):
            pass
        log.info("stopping: waiting for the current round to finish")
        self.notifier.stopping()
        self._scheduler.shutdown(timeout=8.0)
        if self._watcher is not None:
            self._watcher.stop()
        if server is not None:
            server.shutdown()
        self.notifier.stop()
        log.info("stopped")
        return EXIT_OK

    _watcher: Any = None

    def _watched_interfaces(self) -> set[str]:
        if not self.settings.records:
            return set()
        return {
            src.split(":", 1)[1].strip()
            for src in self.settings.detect.ipv4 + self.settings.detect.ipv6
            if src.strip().startswith("iface:")
        }

    def _update_watcher(self) -> None:
        """Watch the ``iface:`` sources' interfaces (again after a reload that changed them)."""
        ifaces = self._watched_interfaces()
        current = self._watcher
        if current is not None and current.ifaces == ifaces:
            return
        if current is not None:
            current.stop()
            self._watcher = None
        if ifaces:
            from ddnsd.detect.netlink import AddressWatcher

            self._watcher = AddressWatcher(
                lambda: self._scheduler.trigger("address change"), ifaces
            )
            self._watcher.start()
            log.info("watching address changes on %s", ", ".join(sorted(ifaces)))
