"""Helpers shared by tests/integration/test_reconcile_*.py (not a test module)."""

from __future__ import annotations

import json
from typing import Any

from ddnsd.model import DnsEntry, RecordSpec
from ddnsd.reconcile.engine import Engine
from ddnsd.transip.budget import DDNS
from ddnsd.transip.client import TransipClient, make_client

D = "example.test"
HOME_A = RecordSpec(D, "home", "A")


def client_for(emulator: Any) -> TransipClient:
    return make_client(
        emulator.api_url,
        emulator.login,
        emulator.private_key_path,
        backoff_base=0.01,  # retries stay bounded; the tests need not wait for them
        backoff_cap=0.05,
        kind=DDNS,
    )


def engine_for(emulator: Any, specs: list[RecordSpec], **kw: Any) -> Engine:
    kw.setdefault("nameservers", [emulator.dns_server])
    return Engine(client_for(emulator), specs, **kw)


def writes(emulator: Any) -> int:
    """POST + PATCH + DELETE (+ PUT) requests on DNS entries the emulator saw."""
    path = "/v6/domains/{domain}/dns"
    return sum(emulator.request_count(m, path) for m in ("POST", "PATCH", "DELETE", "PUT"))


def mine(emulator: Any, spec: RecordSpec) -> list[DnsEntry]:
    return [
        e
        for e in emulator.entries(spec.domain)
        if e.name.lower() == spec.name.lower() and e.type == spec.type
    ]


def foreign_bytes(emulator: Any, specs: list[RecordSpec]) -> bytes:
    """Every entry no spec owns, serialised exactly as the emulator reports them."""
    owned = {(s.domain, s.name.lower(), s.type) for s in specs}
    state = emulator.state()["domains"]
    kept = {
        d: [e for e in entries if (d, e["name"].lower(), e["type"]) not in owned]
        for d, entries in state.items()
    }
    return json.dumps(kept, sort_keys=True).encode()
