"""Names and values at the HTTP front doors and at the emulator, over real sockets.

httpreq, acme-dns and dyndns2 requests go into ddnsd's web app (the real challenge
service, the real TransIP client) and the emulator's zone is checked afterwards: every
refused name (tests/hostile_names.py) is a 400 (dyndns2: ``notfqdn``) and writes
nothing; accepted ones are written under their normalised name. The emulator refuses
what TransIP would, with a 406 and a TransIP-style text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import requests
from daemon_support import challenge_service
from hostile_names import ACCEPTED, REFUSED, fqdn

from ddnsd.acme.challenge import normalize_name
from ddnsd.config.runtime import AcmeDnsAccount, DyndnsEndpoint, HttpreqAuth
from ddnsd.detect.base import Family
from ddnsd.detect.push import PushStore
from ddnsd.model import DnsEntry
from ddnsd.web.app import make_app
from ddnsd.web.server import HttpServer, serve

if TYPE_CHECKING:
    from conftest import EmulatorHandle

AUTH = ("lego", "httpreq-pw")
ACMEDNS = {"X-Api-User": "certmanager", "X-Api-Key": "acmedns-key"}
ROUTER = ("router", "router-pw")
VALUE = "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0"


class Front:
    def __init__(self, server: HttpServer, store: PushStore) -> None:
        self.url = server.url
        self.store = store


@pytest.fixture
def front(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[Front]:
    service = challenge_service(emulator, tmp_path)
    store = PushStore()
    app = make_app(
        metrics=None,
        health=None,
        acme=service,
        httpreq=HttpreqAuth("/acme", *AUTH),
        acmedns_accounts=[AcmeDnsAccount(*ACMEDNS.values(), "_acme-challenge.example.test")],
        dyndns=DyndnsEndpoint(*ROUTER, frozenset({"home.example.test"})),
        push_store=store,
    )
    server = serve(app, "127.0.0.1:0")
    yield Front(server, store)
    server.shutdown()


def entries(emulator: EmulatorHandle) -> list[DnsEntry]:
    return sorted(emulator.entries("example.test"), key=repr)


def test_httpreq_refuses_every_hostile_name_with_400(
    front: Front, emulator: EmulatorHandle
) -> None:
    before = entries(emulator)
    answers: dict[str, tuple[int, int]] = {}
    for case, domain in REFUSED.items():
        plain = requests.post(
            front.url + "/acme/present", json={"fqdn": fqdn(domain), "value": VALUE}, auth=AUTH
        )
        raw = requests.post(
            front.url + "/acme/present",
            json={"domain": domain, "token": "tok", "keyAuth": "tok.thumb"},
            auth=AUTH,
        )
        answers[case] = (plain.status_code, raw.status_code)
        assert "is not a domain name" in plain.text or "contains" in plain.text, plain.text
    assert answers == dict.fromkeys(REFUSED, (400, 400))
    assert entries(emulator) == before
    assert emulator.request_count("POST", "/v6/domains/{domain}/dns") == 0


def test_httpreq_writes_accepted_names_normalised(front: Front, emulator: EmulatorHandle) -> None:
    for domain in ACCEPTED.values():
        r = requests.post(
            front.url + "/acme/present", json={"fqdn": fqdn(domain), "value": VALUE}, auth=AUTH
        )
        assert r.status_code == 200, r.text
    written = {e.name for e in emulator.entries("example.test") if e.type == "TXT"}
    for domain in ACCEPTED.values():
        assert normalize_name(fqdn(domain)).removesuffix(".example.test") in written


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"subdomain": "_acme-challenge\n", "txt": VALUE}, "bad_subdomain", id="nl"),
        pytest.param({"subdomain": " _acme-challenge", "txt": VALUE}, "bad_subdomain", id="sp"),
        pytest.param({"subdomain": "_acme-challenge\x00", "txt": VALUE}, "bad_subdomain", id="nul"),
        pytest.param({"subdomain": "_acme-challenge", "txt": VALUE + "\n"}, "bad_txt", id="txt-nl"),
        pytest.param(
            {"subdomain": "_acme-challenge", "txt": "\t" + VALUE}, "bad_txt", id="txt-tab"
        ),
    ],
)
def test_acmedns_refuses_control_characters_with_400(
    front: Front, emulator: EmulatorHandle, body: dict[str, str], code: str
) -> None:
    before = entries(emulator)
    r = requests.post(front.url + "/update", json=body, headers=ACMEDNS)
    assert (r.status_code, r.json()["error"]) == (400, code)
    assert entries(emulator) == before


def test_dyndns_answers_notfqdn_for_every_hostile_hostname(front: Front) -> None:
    lines = {}
    for case, domain in REFUSED.items():
        host = fqdn(domain)
        r = requests.get(
            f"{front.url}/nic/update?hostname={quote(host, safe='')}&myip=81.2.69.160",
            auth=ROUTER,
        )
        lines[case] = (r.status_code, r.text.strip())
    assert lines == dict.fromkeys(REFUSED, (200, "notfqdn"))
    bad_ip = requests.get(
        f"{front.url}/nic/update?hostname=home.example.test&myip=81.2.69.160%0A", auth=ROUTER
    )
    assert (bad_ip.status_code, bad_ip.text.strip()) == (200, "abuse")
    assert front.store.get(Family.V4) is None


def post_entry(emulator: EmulatorHandle, token: str, name: str, content: str) -> Any:
    return requests.post(
        f"{emulator.api_url}/domains/example.test/dns",
        json={"dnsEntry": {"name": name, "expire": 60, "type": "TXT", "content": content}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


NAMES_TRANSIP_REFUSES = {
    "newline": "foo\n",
    "trailing-newline": "_acme-challenge\n",
    "cr": "foo\rbar",
    "nul": "foo\x00",
    "tab": "foo\t",
    "space": "foo bar",
    "double-dot": "foo..bar",
    "trailing-dot": "foo.",
    "ideographic-dot": "foo\u3002bar",
    "64-char-label": "a" * 64,
    "254-char-name": ".".join(["a" * 60] * 4),
    "raw-unicode": "bücher",
}


def test_emulator_refuses_names_and_content_transip_would(emulator: EmulatorHandle) -> None:
    token = emulator.token()
    before = entries(emulator)
    answers = {
        case: (r.status_code, r.json()["error"])
        for case, name in NAMES_TRANSIP_REFUSES.items()
        for r in [post_entry(emulator, token, name, VALUE)]
    }
    assert answers == {
        case: (406, f"Invalid DNS entry name '{name}'")
        for case, name in NAMES_TRANSIP_REFUSES.items()
    }
    for content in ("abc\ndef", "abc\x00", "\x1b[31m", "a\u2028b"):
        r = post_entry(emulator, token, "_acme-challenge", content)
        assert (r.status_code, r.json()["error"]) == (
            406,
            "Invalid content for DNS entry '_acme-challenge 60 TXT'",
        )
    assert entries(emulator) == before
    ok = post_entry(emulator, token, "xn--bcher-kva", "v=spf1 mx -all")
    assert ok.status_code == 201, ok.text


def test_emulator_refuses_every_such_name_in_a_put_too(emulator: EmulatorHandle) -> None:
    """PUT replaces the zone: the same names are refused, and the zone stays served."""
    from ddnsd.authdns import parse_server, query

    token = emulator.token()
    before = entries(emulator)
    kept = [
        {"name": e.name, "expire": e.expire, "type": e.type, "content": e.content} for e in before
    ]
    for case, name in NAMES_TRANSIP_REFUSES.items():
        bad = {"name": name, "expire": 60, "type": "TXT", "content": VALUE}
        r = requests.put(
            f"{emulator.api_url}/domains/example.test/dns",
            json={"dnsEntries": [*kept, bad]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert (r.status_code, r.json()["error"]) == (406, f"Invalid DNS entry name '{name}'"), case
    assert entries(emulator) == before
    served = query(parse_server(emulator.dns_server), "www.example.test", "CNAME", 5.0)
    assert served == ["example.test."]


def test_untrusted_text_cannot_split_or_forge_a_daemon_log_line(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A path, a name and a value full of newlines: every line the daemon logs is its own."""
    from daemon_support import DaemonProcess, free_port, wait_for, write_config

    port = free_port()
    (tmp_path / "pw").write_text("httpreq-pw\n")
    extra = '[acme.httpreq]\nusername = "lego"\npassword_file = "pw"\n'
    cfg = write_config(tmp_path / "c.toml", emulator, records="", http_port=port, extra=extra)
    daemon = DaemonProcess(cfg)
    forged = "\n2026-01-01 00:00:00,000 ERROR   ddnsd: forged\r\x1b[2K"
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: "http: http://" in daemon.log, what="the listener")
        requests.get(base + "/x" + quote(forged), timeout=5)
        requests.post(
            base + "/acme/present", json={"fqdn": fqdn(forged), "value": VALUE}, auth=AUTH
        )
        requests.post(
            base + "/acme/present", json={"fqdn": fqdn("a.b"), "value": forged}, auth=AUTH
        )
        requests.post(base + "/acme" + quote(forged), auth=("lego", "wrong"))
        wait_for(lambda: daemon.log.count("/acme") >= 3, what="the access log lines")
    finally:
        assert daemon.stop() == 0
    lines = daemon.log.splitlines()
    assert lines and all(line[:4].isdigit() and line[4] == "-" for line in lines), daemon.log
    assert "forged" not in "".join(line for line in lines if "ERROR" in line.split(" ", 3)[2])
