"""Shared fixtures: a test-time RSA key pair and the local TransIP emulator on free ports.

``emulator`` is a started emulator for login "demo" with domains example.test and
other.test (each with foreign entries, see ``ddnsd.emulator.zones.default_entries``);
``emulator_factory(**EmulatorConfig overrides)`` starts more, all stopped after the test.
The handle talks to the emulator's control endpoints over HTTP, like any client would.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ddnsd.emulator.keys import KeyPair, write_keypair
from ddnsd.emulator.server import Emulator, EmulatorConfig
from ddnsd.model import DnsEntry

DOMAINS = ["example.test", "other.test"]


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs ``cli.main`` in-process gets ``logs.setup``: a root handler on the
    ``sys.stderr`` of that moment, pytest's capture stream, closed after the test. Later
    tests in the same worker would then log into a closed file ("--- Logging error ---" on
    fd 2, which tests reading fd 2 see). Each test gets the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the tests marked ``slow(seconds)`` over the pytest-xdist workers, one block
    each, so the long waits run side by side instead of trailing at the end of the run.

    xdist (``--dist worksteal``) hands each worker one contiguous block of the collection
    at start; the slow tests go to the front of those blocks, longest first, each to the
    block with the least slow time so far. Without workers the order stays as it is.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    slow = [i for i in items if i.get_closest_marker("slow")]
    if workers < 2 or not slow:
        return
    rest = [i for i in items if not i.get_closest_marker("slow")]

    def seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("slow")
        return float(marker.args[0]) if marker is not None and marker.args else 10.0

    load = [0.0] * workers
    blocks: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for item in sorted(slow, key=seconds, reverse=True):
        least = load.index(min(load))
        blocks[least].append(item)
        load[least] += seconds(item)
    remaining, ordered = len(items), []
    for i, block in enumerate(blocks):  # the block sizes xdist will cut
        size = remaining // (workers - i)
        remaining -= size
        take = max(size - len(block), 0)
        ordered += block + rest[:take]
        rest = rest[take:]
    items[:] = ordered + rest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--campaign-size",
        choices=("quick", "full"),
        default="quick",
        help="cases per campaign in tests/campaigns (quick: make test; full: make campaigns)",
    )


@pytest.fixture(scope="session")
def rsa_keypair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """RSA-2048 generated at test time: PKCS#8 private PEM (mode 0600) + public PEM."""
    return write_keypair(tmp_path_factory.mktemp("keys"), "demo")


@dataclass
class EmulatorHandle:
    """A running emulator plus helpers that use its control endpoints."""

    emulator: Emulator
    login: str
    private_key_path: Path
    public_key_path: Path
    domains: list[str] = field(default_factory=list)
    verify: bool | str = True  # CA file for an emulator serving TLS

    @property
    def api_url(self) -> str:
        return self.emulator.api_url

    @property
    def base_url(self) -> str:
        return self.emulator.base_url

    @property
    def dns_address(self) -> tuple[str, int]:
        return self.emulator.dns_address

    @property
    def dns_server(self) -> str:
        host, port = self.emulator.dns_address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _get(self, path: str) -> Any:
        r = requests.get(self.base_url + path, timeout=10, verify=self.verify)
        r.raise_for_status()
        return r.json()

    def _post(self, path: str, body: Any) -> Any:
        r = requests.post(self.base_url + path, json=body, timeout=10, verify=self.verify)
        if r.status_code >= 400:
            raise AssertionError(f"{path}: {r.status_code} {r.text}")
        return r.json()

    def state(self) -> dict[str, Any]:
        return dict(self._get("/_emulator/state"))

    def entries(self, domain: str) -> list[DnsEntry]:
        return [
            DnsEntry(e["name"], int(e["expire"]), e["type"], e["content"])
            for e in self.state()["domains"][domain]
        ]

    def stats(self) -> dict[str, Any]:
        return dict(self._get("/_emulator/stats"))

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
        """/v6 requests answered (or lost), optionally only one method and/or path template."""
        return sum(
            row["count"]
            for row in self.stats()["requests"]
            if row["path"].startswith("/v6")
            and (method is None or row["method"] == method.upper())
            and (path is None or row["path"] == path)
        )

    def faults(self, **body: Any) -> dict[str, Any]:
        return dict(self._post("/_emulator/faults", body))

    def script_faults(self, script: list[dict[str, str]]) -> dict[str, Any]:
        return dict(self._post("/_emulator/faults", {"script": script}))

    def reset(self) -> None:
        self._post("/_emulator/reset", {})

    def seed_entry(self, domain: str, entry: DnsEntry) -> None:
        self._post(
            "/_emulator/entries",
            {
                "domain": domain,
                "entry": {
                    "name": entry.name,
                    "expire": entry.expire,
                    "type": entry.type,
                    "content": entry.content,
                },
            },
        )

    def revoke(self, jti: str | None = None, all: bool = False) -> int:
        body: dict[str, Any] = {"all": True} if all else {"jti": jti}
        return int(self._post("/_emulator/revoke", body)["revoked"])

    def expire_tokens(self) -> int:
        return int(self._post("/_emulator/expire", {})["expired"])

    def set_propagation_delay(self, seconds: float) -> None:
        self._post("/_emulator/delay", {"propagation_delay": seconds})

    def tokens(self) -> list[dict[str, Any]]:
        return list(self._get("/_emulator/tokens")["tokens"])

    def signed_auth_body(self, **overrides: Any) -> tuple[bytes, str]:
        """A fresh auth body for this login and its ``Signature`` header value."""
        body: dict[str, Any] = {
            "login": self.login,
            "nonce": secrets.token_hex(8),
            "read_only": False,
            "expiration_time": "30 minutes",
            "label": f"test-{time.time_ns()}",
            "global_key": True,
        }
        body.update(overrides)
        raw = json.dumps(body).encode()
        key = serialization.load_pem_private_key(self.private_key_path.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        sig = base64.b64encode(key.sign(raw, padding.PKCS1v15(), hashes.SHA512())).decode()
        return raw, sig

    def token(self, **overrides: Any) -> str:
        """A token from a signed ``POST /v6/auth`` (counts as one /v6 request)."""
        raw, sig = self.signed_auth_body(**overrides)
        r = requests.post(
            self.api_url + "/auth",
            data=raw,
            headers={"Signature": sig, "Content-Type": "application/json"},
            timeout=10,
            verify=self.verify,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


EmulatorFactory = Callable[..., EmulatorHandle]


@pytest.fixture
def emulator_factory(rsa_keypair: KeyPair) -> Iterator[EmulatorFactory]:
    started: list[Emulator] = []

    def make(**overrides: Any) -> EmulatorHandle:
        settings: dict[str, Any] = {
            "users": {"demo": rsa_keypair.public_pem},
            "domains": list(DOMAINS),
        }
        settings.update(overrides)
        emu = Emulator(EmulatorConfig(**settings))
        emu.start()
        started.append(emu)
        login = next(iter(settings["users"]), "demo")
        return EmulatorHandle(
            emulator=emu,
            login=login,
            private_key_path=rsa_keypair.private_key_path,
            public_key_path=rsa_keypair.public_key_path,
            domains=list(settings["domains"]),
            verify=str(settings["tls_cert"]) if settings.get("tls_cert") else True,
        )

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> EmulatorHandle:
    return emulator_factory()
