"""Prometheus metrics: the metric objects, on a registry of their own.

Every metric is named ``ddnsd_*`` and lives on ``Metrics().registry`` (never on
prometheus-client's global registry), so each test and each daemon gets a fresh set.
The few helpers below exist only where they save every caller the same three lines.

Label values are bounded: ``record`` is ``RecordSpec.key`` ("home.example.test/A"),
``path`` a TransIP path template ("/domains/{domain}/dns"), ``outcome`` an
:class:`~ddnsd.model.Outcome` value. Secrets never become label values.
"""

from __future__ import annotations

import math
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector

from ddnsd import __version__
from ddnsd.model import Outcome

PREFIX = "ddnsd_"

# TransIP answers in tens to hundreds of milliseconds; retries and 429 waits go longer.
API_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# From the POST to every authoritative nameserver serving the value (timeout 600 s).
PROPAGATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    """All ddnsd metrics on one dedicated :class:`CollectorRegistry`.

    Families (counters are exposed with ``_total``; histograms add ``_bucket``/``_sum``/``_count``):

    - ``ddnsd_detected_address_info{family,address}``: 1 for the current agreed address
    - ``ddnsd_detection_disagreements_total{family}``
    - ``ddnsd_source_failures_total{source}``
    - ``ddnsd_record_in_sync{record}``: 1 in sync, 0 not
    - ``ddnsd_record_outcomes_total{record,outcome}``
    - ``ddnsd_rounds_total{result}``: result "ok" or "failed"
    - ``ddnsd_api_requests_total{method,path,status}`` (status "0" = no answer)
    - ``ddnsd_api_request_duration_seconds{method,path}``
    - ``ddnsd_transip_rate_limit_remaining`` (NaN until TransIP told us)
    - ``ddnsd_api_budget_remaining``: requests left as the shared budget counts them
    - ``ddnsd_api_deferred_total{kind}``: times the budget made work wait (ddns/acme)
    - ``ddnsd_token_expiry_timestamp_seconds`` (NaN until a token exists)
    - ``ddnsd_last_success_timestamp_seconds`` (0 = no successful round yet)
    - ``ddnsd_acme_challenges_total{action,result}``: action present/cleanup/update,
      result ok/refused/timeout/error
    - ``ddnsd_acme_propagation_seconds``
    - ``ddnsd_dyndns_pushes_total{result}``: the dyndns2 answer (good, nochg, nohost, ...)
    - ``ddnsd_notify_failures_total{kind}``: kind "message" (Apprise) or "heartbeat"
    - ``ddnsd_build_info{version}``: always 1
    """

    def __init__(self, version: str = __version__, *, process_metrics: bool = True) -> None:
        self._lock = threading.Lock()
        self._addresses: dict[str, str] = {}  # family -> current address label
        self._records: set[str] = set()
        r = self.registry = CollectorRegistry()
        if process_metrics:
            ProcessCollector(registry=r)  # process_* (RSS, CPU, open fds); not ddnsd_*

        self.detected_address_info = Gauge(
            "ddnsd_detected_address_info",
            "The agreed public address per family (value 1 for the current one).",
            ["family", "address"],
            registry=r,
        )
        self.detection_disagreements = Counter(
            "ddnsd_detection_disagreements_total",
            "Rounds in which the address sources did not agree (DNS left unchanged).",
            ["family"],
            registry=r,
        )
        self.source_failures = Counter(
            "ddnsd_source_failures_total",
            "Address source failures (timeout, garbage answer, non-global address).",
            ["source"],
            registry=r,
        )
        self.record_in_sync = Gauge(
            "ddnsd_record_in_sync",
            "1 when the record holds the detected address after the last round, else 0.",
            ["record"],
            registry=r,
        )
        self.record_outcomes = Counter(
            "ddnsd_record_outcomes_total",
            "Per-record round outcomes (noop, updated, failed, conflict, deferred).",
            ["record", "outcome"],
            registry=r,
        )
        self.rounds = Counter(
            "ddnsd_rounds_total",
            "Detection and reconcile rounds by result.",
            ["result"],
            registry=r,
        )
        self.api_requests = Counter(
            "ddnsd_api_requests_total",
            "HTTP requests to the TransIP API by method, path template and status (0 = no answer).",
            ["method", "path", "status"],
            registry=r,
        )
        self.api_request_duration = Histogram(
            "ddnsd_api_request_duration_seconds",
            "TransIP API request latency by method and path template.",
            ["method", "path"],
            buckets=API_BUCKETS,
            registry=r,
        )
        self.transip_rate_limit_remaining = Gauge(
            "ddnsd_transip_rate_limit_remaining",
            "Requests left in TransIP's rate-limit window (X-Rate-Limit-Remaining).",
            registry=r,
        )
        self.transip_rate_limit_remaining.set(math.nan)
        self.api_budget_remaining = Gauge(
            "ddnsd_api_budget_remaining",
            "Requests left in TransIP's window for this login, as the request budget shared "
            "by every ddnsd process counts them.",
            registry=r,
        )
        self.api_budget_remaining.set(math.nan)
        self.api_deferred = Counter(
            "ddnsd_api_deferred_total",
            "Times the request budget made work wait (a request not sent, or a round's "
            "writes put off), by kind of work (ddns, acme).",
            ["kind"],
            registry=r,
        )
        for kind in ("ddns", "acme"):
            self.api_deferred.labels(kind=kind)
        self.token_expiry = Gauge(
            "ddnsd_token_expiry_timestamp_seconds",
            "Unix time at which the current TransIP access token expires.",
            registry=r,
        )
        self.token_expiry.set(math.nan)
        self.last_success = Gauge(
            "ddnsd_last_success_timestamp_seconds",
            "Unix time of the last round in which every record was handled without failure.",
            registry=r,
        )
        self.acme_challenges = Counter(
            "ddnsd_acme_challenges_total",
            "ACME DNS-01 challenge requests by action and result.",
            ["action", "result"],
            registry=r,
        )
        self.acme_propagation = Histogram(
            "ddnsd_acme_propagation_seconds",
            "Time from a challenge request until every authoritative nameserver served it.",
            buckets=PROPAGATION_BUCKETS,
            registry=r,
        )
        self.dyndns_pushes = Counter(
            "ddnsd_dyndns_pushes_total",
            "dyndns2 router pushes by answer (good, nochg, badauth, nohost, abuse, ...).",
            ["result"],
            registry=r,
        )
        self.notify_failures = Counter(
            "ddnsd_notify_failures_total",
            "Notifications (kind message) and heartbeats (kind heartbeat) that could not be sent.",
            ["kind"],
            registry=r,
        )
        for kind in ("message", "heartbeat"):
            self.notify_failures.labels(kind=kind)
        self.build_info = Gauge(
            "ddnsd_build_info",
            "ddnsd version (value always 1).",
            ["version"],
            registry=r,
        )
        self.build_info.labels(version=version).set(1)

    # -- helpers that save callers repetition ------------------------------------------

    def observe_api(self, method: str, path: str, status: int, seconds: float) -> None:
        """The TransIP client's ``observer(method, path_template, status, seconds)``."""
        self.api_requests.labels(method=method, path=path, status=str(status)).inc()
        self.api_request_duration.labels(method=method, path=path).observe(seconds)

    def set_detected_address(self, family: str, address: str | None) -> None:
        """Make ``address`` the one current address of ``family`` (None: no address)."""
        with self._lock:
            old = self._addresses.pop(family, None)
            if old is not None and old != address:
                self.detected_address_info.remove(family, old)
            if address is not None:
                self._addresses[family] = address
                self.detected_address_info.labels(family=family, address=address).set(1)

    def record_outcome(self, record: str, outcome: Outcome) -> None:
        """Count one record's round outcome and set its in-sync gauge (noop/updated = 1)."""
        with self._lock:
            new = record not in self._records
            self._records.add(record)
        if new:  # every outcome series exists from the start, so rate() and increase() work
            for each in Outcome:
                self.record_outcomes.labels(record=record, outcome=each.value)
        self.record_outcomes.labels(record=record, outcome=outcome.value).inc()
        self.record_in_sync.labels(record=record).set(1 if outcome.ok else 0)

    def observe_round(self, ok: bool, when: float) -> None:
        """Count a round; a successful one also moves the last-success timestamp."""
        self.rounds.labels(result="ok" if ok else "failed").inc()
        if ok:
            self.last_success.set(when)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The registry as (body, content type), OpenMetrics when ``accept`` asks for it."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    def metric_names(self) -> set[str]:
        """Names as written in queries and docs: counters with ``_total``, histograms bare."""
        names: set[str] = set()
        for family in self.registry.collect():
            if not family.name.startswith(PREFIX):
                continue
            names.add(f"{family.name}_total" if family.type == "counter" else family.name)
        return names


def metric_names() -> set[str]:
    """Every ``ddnsd_*`` metric name (see :meth:`Metrics.metric_names`)."""
    return Metrics(process_metrics=False).metric_names()
