"""``ddnsd run``: the long-running process.

Rounds run on a schedule (APScheduler), on netlink address events of watched interfaces,
on router pushes and on SIGUSR1; SIGHUP reloads the configuration before the next round;
SIGTERM/SIGINT stop after the current round. The HTTP listener always serves the app of
the current configuration. Every result goes through the :class:`Reporter`.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from ddnsd import wiring
from ddnsd.errors import EXIT_OK, ConfigError, DdnsdError
from ddnsd.startup import check_startup

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from ddnsd.acme.service import ChallengeService
    from ddnsd.config.models import Settings
    from ddnsd.detect.base import Detector
    from ddnsd.detect.netlink import AddressWatcher
    from ddnsd.reconcile.engine import Engine
    from ddnsd.transip.client import TransipClient
    from ddnsd.web.server import HttpServer

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """What one configuration builds; a reload builds a new set."""

    settings: Settings
    client: TransipClient
    detectors: dict[str, list[Detector]]
    engine: Engine | None
    acme: ChallengeService | None
    external_dns: WSGIApplication | None = None  # external-dns's webhook API


class Listener:
    """The HTTP listener; it always serves the app set last (a reload swaps it)."""

    def __init__(self) -> None:
        self.app: WSGIApplication | None = None
        self.server: HttpServer | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        assert self.app is not None
        return self.app(environ, start_response)

    def start(
        self,
        app: WSGIApplication,
        listen: str,
        key: str = "http.listen",
        serves: str = "status page /, /metrics /healthz /readyz",
        max_body: int = 65536,
    ) -> None:
        from ddnsd.web.server import serve

        self.app = app
        try:
            self.server = serve(self, listen, max_request_body=max_body)
        except DdnsdError as exc:  # in use, or gone since check_startup: fix the config
            raise ConfigError(f"{key}: {exc}") from None
        log.info("%s: %s (%s)", key.split(".")[0], self.server.url, serves)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


class InterfaceWatch:
    """Netlink watch of the ``iface:`` sources' interfaces; ``update`` after a reload."""

    def __init__(self, on_event: Callable[[], None]) -> None:
        self.on_event = on_event
        self.watcher: AddressWatcher | None = None

    def update(self, ifaces: set[str]) -> None:
        if self.watcher is not None and self.watcher.ifaces == ifaces:
            return
        self.stop()
        if ifaces:
            from ddnsd.detect.netlink import AddressWatcher

            self.watcher = AddressWatcher(self.on_event, ifaces)
            self.watcher.start()
            log.info("watching address changes on %s", ", ".join(sorted(ifaces)))

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None


class Daemon:
    """``ddnsd run``: rounds on a schedule, on netlink events and on router pushes."""

    def __init__(self, settings: Settings, config_path: str | None) -> None:
        from ddnsd.config.environ import process_env
        from ddnsd.detect.push import PushStore
        from ddnsd.handoff.work import DaemonAcme
        from ddnsd.observe.health import Health
        from ddnsd.observe.metrics import Metrics
        from ddnsd.scheduler import Scheduler
        from ddnsd.sdnotify import Notifier

        s = settings
        self.config_path = config_path
        self.metrics = Metrics()
        self.health = Health(s.schedule.interval)
        self.notifier = Notifier(process_env("NOTIFY_SOCKET"), process_env("WATCHDOG_USEC"))
        self.report = wiring.make_reporter(s, self.metrics, self.health, self.notifier)
        self.acme_work = DaemonAcme(lambda: self.parts, events=self.report.event)
        self.scheduler = Scheduler(
            self._round_job,
            interval=s.schedule.interval,
            jitter=s.schedule.jitter,
            periodic={"acme-sweep": (self.acme_work.sweep, max(60.0, s.acme.max_age / 4))},
        )
        self.push_store = PushStore(on_change=self.scheduler.trigger)
        self.listener = Listener()
        self.external_dns = Listener()
        self.watch = InterfaceWatch(lambda: self.scheduler.trigger("address change"))
        self._stop = threading.Event()
        self._first_round = threading.Event()
        self._round_lock = threading.Lock()
        self._reload_requested = False
        self.parts = self._build(s)

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    def _build(self, settings: Settings) -> Parts:
        client = wiring.make_client(settings, self.metrics.observe_api, self.report.budget_wait)
        records = bool(settings.records)
        acme = None
        if wiring.serves_acme(settings):
            acme = wiring.make_challenge_service(settings, client, events=self.report.event)
            acme.cleanup_stale()
        return Parts(
            settings=settings,
            client=client,
            detectors=wiring.make_detectors(settings, self.push_store) if records else {},
            engine=wiring.make_engine(settings, client) if records else None,
            acme=acme,
            external_dns=wiring.make_external_dns_app(settings, client)
            if settings.external_dns.listen
            else None,
        )

    def _web_app(self, parts: Parts) -> WSGIApplication:
        """The HTTP app of ``parts`` (ConfigError when a secret file cannot be used)."""
        return wiring.make_web_app(
            parts.settings,
            metrics=self.metrics,
            health=self.health,
            acme=parts.acme,
            push_store=self.push_store,
            status=self.report.snapshot,
        )

    # -- jobs

    def _round_job(self) -> bool:
        ok = self.round()
        self._first_round.set()
        return ok

    def round(self) -> bool:
        with self._round_lock:
            if self._reload_requested:
                self._reload()
            parts, now = self.parts, time.time()
            self.report.round_started()
            if parts.engine is None:  # nothing to keep in sync (ACME or metrics only)
                self.report.idle_round(now)
                return True
            try:
                agreements = wiring.detect(parts.settings, parts.detectors)
                self.report.agreements(agreements, now)
                addresses = {rtype: a.address for rtype, a in agreements.items()}
                result = parts.engine.run_round(addresses)
            except DdnsdError as exc:
                log.error("round failed: %s", exc)
                self.report.round(now, None, error=str(exc))
                self.report.status()
                return False
            ok = self.report.round(now, result, agreements)
            self.report.client(parts.client)
            self.report.status()
            if result.deferred_until is not None:  # the rest of the round waits for the budget
                self.scheduler.run_at(result.deferred_until, "records deferred by the rate limit")
            return ok

    def _reload(self) -> None:
        """Read the configuration again and switch to it as a whole, or not at all.

        Everything is built and checked first (the start-up checks, the parts, the web
        app with its secrets, the notifications); only then is anything swapped. A
        refused reload leaves the running configuration in charge of every part."""
        self._reload_requested = False
        old = self.settings
        try:
            settings = wiring.load_settings(self.config_path)
            check_startup(settings)  # what a restart would refuse is refused now
            parts = self._build(settings)
            app = self._web_app(parts) if self.listener.app is not None else None
            events = wiring.make_event_log(settings, on_failure=self.report.notify_failed)
        except ConfigError as exc:
            _log_refused(exc)
            return
        except DdnsdError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            return
        self.parts, new = parts, settings
        if app is not None:
            self.listener.app = app
            if new.http.listen != old.http.listen:
                log.warning(
                    "[http] listen changed to %r: restart ddnsd to move the listener (still on %r)",
                    new.http.listen,
                    old.http.listen,
                )
        if self.external_dns.app is not None and parts.external_dns is not None:
            self.external_dns.app = parts.external_dns
        if new.external_dns.listen != old.external_dns.listen:
            log.warning(
                "[external_dns] listen changed to %r: restart ddnsd to move it (still %r)",
                new.external_dns.listen,
                old.external_dns.listen,
            )
        if new.http.socket != old.http.socket:
            log.warning("[http] socket changed: hooks find the daemon there after a restart")
        self.health.interval = new.schedule.interval
        self.watch.update(wiring.watched_interfaces(new))
        self.scheduler.reschedule(new.schedule.interval, new.schedule.jitter)
        self.report.reloaded(str(new.source), events)
        log.info("configuration reloaded from %s", new.source)

    # -- lifecycle

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            log.info("SIGHUP: reloading configuration before the next round")
            self._reload_requested = True
            self.scheduler.trigger("reload")
        elif signum == signal.SIGUSR1:
            self.scheduler.trigger("SIGUSR1")
        else:
            self._stop.set()

    def run(self) -> int:
        s = self.settings
        from ddnsd.handoff.server import HookServer

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(sig, self._on_signal)
        self.hooks = HookServer.listen(s, self.acme_work)  # first: a second daemon stops here
        self.report.started(len(s.records))
        self.acme_work.sweep()
        if s.http.listen:
            self.listener.start(self._web_app(self.parts), s.http.listen)
        if self.parts.external_dns is not None:
            from ddnsd.externaldns.app import MAX_BODY

            self.external_dns.start(
                self.parts.external_dns,
                s.external_dns.listen,
                "external_dns.listen",
                "external-dns webhook: / /records /adjustendpoints",
                MAX_BODY,
            )
        self.watch.update(wiring.watched_interfaces(s))
        self.scheduler.start()
        self._warn_if_idle(s)
        log.info(
            "ddnsd running: %d record(s), round every %.0f s",
            len(s.records),
            s.schedule.interval,
        )
        while not self._stop.is_set() and not self._first_round.wait(0.2):
            pass
        if self._first_round.is_set():
            self.notifier.ready(self.health.status_line())
            self.notifier.start_watchdog(lambda: not self._stop.is_set())
        while not self._stop.wait(1.0):
            pass
        log.info("stopping: waiting for the current round to finish")
        self.notifier.stopping()
        self.scheduler.shutdown(timeout=8.0)
        self.watch.stop()
        self.listener.stop()
        self.external_dns.stop()
        if self.hooks is not None:
            self.hooks.stop()
        self.report.stopped()
        self.notifier.stop()
        log.info("stopped")
        return EXIT_OK

    def _warn_if_idle(self, s: Settings) -> None:
        idle = not s.records and self.parts.acme is None and s.dyndns is None
        if idle and not s.external_dns.listen:
            log.warning(
                "nothing to do: %s has no [[records]], no [acme.httpreq] / [[acme.accounts]] "
                "and no [dyndns]; serving metrics and health only",
                s.source,
            )


def _log_refused(exc: ConfigError) -> None:
    """A refused reload: one line when there is one problem, else a line per problem."""
    what = "reload refused, keeping the running configuration"
    if len(exc.problems) == 1:
        log.error("%s: %s: %s", what, exc, exc.problems[0])
        return
    log.error("%s: %s", what, exc)
    for p in exc.problems:
        log.error("  - %s", p)
