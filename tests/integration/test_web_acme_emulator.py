"""The sidecar HTTP API with the real ChallengeService against the emulator.

lego httpreq and acme-dns requests go over a real socket into ddnsd's web app, the
challenge service writes through the real TransIP client to the emulator, and the
answers are checked on the emulator's zone and its authoritative DNS.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from daemon_support import challenge_service

from ddnsd.acme.service import ChallengeService
from ddnsd.authdns import parse_server, query
from ddnsd.config.runtime import AcmeDnsAccount, HttpreqAuth
from ddnsd.observe.metrics import Metrics
from ddnsd.web.app import make_app
from ddnsd.web.server import HttpServer, serve

if TYPE_CHECKING:
    from conftest import EmulatorHandle

USER, PASSWORD = "lego", "httpreq-pw"
FQDN = "_acme-challenge.example.test"
APEX = "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0"
V1 = "61rBZ_4knHblO0MNoxFsXZ_eTFUHum0B6IVRbhvUn5I"
V2 = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
V3 = "Xk2mG4t8Q0u1nJb7Z3cYp6RwqA9sLdE5fH0iKjMnOpQ"
API_KEY_HEADERS = {"X-Api-User": "certmanager", "X-Api-Key": "acmedns-key"}


def service(emulator: EmulatorHandle, state_dir: Path, **kw: Any) -> ChallengeService:
    return challenge_service(emulator, state_dir, **{"poll_interval": 0.1, **kw})


def start(svc: ChallengeService, metrics: Metrics | None = None) -> HttpServer:
    app = make_app(
        metrics=metrics,
        health=None,
        acme=svc,
        httpreq=HttpreqAuth("/acme", USER, PASSWORD),
        acmedns_accounts=[AcmeDnsAccount("certmanager", "acmedns-key", FQDN)],
    )
    return serve(app, "127.0.0.1:0")


@pytest.fixture
def sidecar(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[HttpServer]:
    srv = start(service(emulator, tmp_path))
    yield srv
    srv.shutdown()


def txt_values(emulator: EmulatorHandle) -> list[str]:
    return sorted(
        e.content
        for e in emulator.entries("example.test")
        if e.name == "_acme-challenge" and e.type == "TXT"
    )


def served(emulator: EmulatorHandle) -> list[str]:
    return sorted(query(parse_server(emulator.dns_server), FQDN, "TXT"))


def httpreq(srv: HttpServer, action: str, body: dict[str, str]) -> requests.Response:
    return requests.post(f"{srv.url}/acme/{action}", json=body, auth=(USER, PASSWORD), timeout=60)


def test_lego_httpreq_apex_and_wildcard(emulator: EmulatorHandle, sidecar: HttpServer) -> None:
    key_auth = "token-1.thumbprint"
    wild = base64.urlsafe_b64encode(hashlib.sha256(key_auth.encode()).digest()).decode()
    wild = wild.rstrip("=")

    r1 = httpreq(sidecar, "present", {"fqdn": FQDN + ".", "value": APEX})
    # lego's RAW mode sends the wildcard domain as it is
    r2 = httpreq(
        sidecar, "present", {"domain": "*.example.test", "token": "token-1", "keyAuth": key_auth}
    )

    assert (r1.status_code, r2.status_code) == (200, 200)
    assert txt_values(emulator) == sorted([APEX, wild])
    assert served(emulator) == sorted([APEX, wild])  # 200 came after propagation

    r3 = httpreq(sidecar, "cleanup", {"fqdn": FQDN + ".", "value": APEX})
    r4 = httpreq(
        sidecar, "cleanup", {"domain": "*.example.test", "token": "token-1", "keyAuth": key_auth}
    )
    assert (r3.status_code, r4.status_code) == (200, 200)
    assert txt_values(emulator) == []


def test_name_outside_the_zones_is_403_and_untouched(
    emulator: EmulatorHandle, sidecar: HttpServer
) -> None:
    before = emulator.state()
    r = httpreq(sidecar, "present", {"fqdn": "_acme-challenge.other.test", "value": APEX})
    assert r.status_code == 403
    assert "other.test" in r.text
    assert emulator.state() == before


def test_acmedns_five_concurrent_updates_for_one_name_all_validate(
    emulator: EmulatorHandle, sidecar: HttpServer
) -> None:
    """cert-manager solving five challenges for one name at once (cert-manager #3610):
    acme-dns would keep two; every value must stay until it ages out."""
    values = [V1, V2, V3, APEX, "Q" * 43]

    def update(value: str) -> requests.Response:
        return requests.post(
            sidecar.url + "/update",
            json={"subdomain": "_acme-challenge", "txt": value},
            headers=API_KEY_HEADERS,
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(update, values))
    assert [(r.status_code, r.json()) for r in answers] == [(200, {"txt": v}) for v in values]
    assert txt_values(emulator) == sorted(values)
    deadline = time.monotonic() + 30
    while served(emulator) != sorted(values) and time.monotonic() < deadline:
        time.sleep(0.1)  # the emulator's nameserver serves what the zone holds
    assert served(emulator) == sorted(values)


def test_propagation_timeout_is_504_naming_the_nameserver(
    emulator_factory: Any, tmp_path: Path
) -> None:
    slow = emulator_factory(propagation_delay=30.0)
    metrics = Metrics(process_metrics=False)
    srv = start(service(slow, tmp_path, propagation_timeout=0.5), metrics)
    try:
        r = httpreq(srv, "present", {"fqdn": FQDN, "value": APEX})
        assert r.status_code == 504
        assert slow.dns_server.split(":")[0] in r.text
        text = requests.get(srv.url + "/metrics", timeout=5).text
        assert 'ddnsd_acme_challenges_total{action="present",result="timeout"} 1.0' in text
    finally:
        srv.shutdown()


def test_acmedns_cert_manager_body_answers_without_waiting(
    emulator_factory: Any, tmp_path: Path
) -> None:
    """cert-manager (goacmedns) sends {"SubDomain","Txt"} and gives up after 30 s; like
    acme-dns, /update answers once the value is stored and leaves propagation to it."""
    slow = emulator_factory(propagation_delay=30.0)
    srv = start(service(slow, tmp_path, propagation_timeout=0.5), Metrics(process_metrics=False))
    try:
        r = requests.post(
            srv.url + "/update",
            json={"SubDomain": "_acme-challenge", "Txt": V1},
            headers=API_KEY_HEADERS,
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert txt_values(slow) == [V1]
    finally:
        srv.shutdown()
