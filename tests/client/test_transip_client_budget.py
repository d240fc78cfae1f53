"""The request budget in the client, over real sockets against the emulator: what reaches
TransIP (the emulator's own log) when the budget is spent or a 429 opened the circuit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from ddnsd.errors import ApiDeferred
from ddnsd.statedir import StateDir
from ddnsd.transip.budget import ACME, DDNS, Budget
from ddnsd.transip.client import TransipClient, make_client

if TYPE_CHECKING:
    from conftest import EmulatorHandle


def client_for(emu: EmulatorHandle, state: Path, **kw: Any) -> TransipClient:
    budget = Budget(StateDir(state), login=emu.login, api_url=emu.api_url, **kw)
    return make_client(
        emu.api_url, emu.login, emu.private_key_path, cache_dir=state, budget=budget, kind=DDNS
    )


def log(emu: EmulatorHandle) -> list[tuple[str, str, int]]:
    rows = requests.get(emu.base_url + "/_emulator/log", timeout=5).json()["requests"]
    return [(r["method"], r["path"], r["status"]) for r in rows]


def test_the_budget_stops_ddns_at_the_reserve_and_acme_at_the_limit(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(rate_limit=10)
    ddns = client_for(emu, tmp_path)
    acme = ddns.for_kind(ACME)
    calls = 0
    with pytest.raises(ApiDeferred) as caught:
        while calls < 20:
            ddns.api_test()
            calls += 1
    # /auth and 8 calls: 9 of 10 requests, one kept for ACME
    assert (calls, caught.value.kind) == (8, "ddns")
    assert "1 kept for ACME" in str(caught.value)
    assert acme.api_test() == "pong"
    with pytest.raises(ApiDeferred) as caught:
        acme.api_test()
    assert caught.value.kind == "acme"
    assert caught.value.until > ddns.rate_limit.reset - 1  # when the oldest leaves
    assert log(emu) == [("POST", "/v6/auth", 201)] + [("GET", "/v6/api-test", 200)] * 9


def test_a_429_silences_every_client_of_the_login(emulator: EmulatorHandle, tmp_path: Path) -> None:
    daemon = client_for(emulator, tmp_path)
    hook = client_for(emulator, tmp_path).for_kind(ACME)  # another process, same state dir
    assert hook.api_test() == "pong"
    emulator.script_faults([{"kind": "ratelimit", "path": "/v6/api-test", "reset": 120}])
    with pytest.raises(ApiDeferred) as first:
        daemon.api_test()
    before = log(emulator)
    for client in (daemon, hook, daemon.for_kind(ACME)):
        with pytest.raises(ApiDeferred) as caught:
            client.list_dns_entries("example.test")
        assert caught.value.until == first.value.until
        assert "TransIP answered 429 (rate limit) for login 'demo'" in str(caught.value)
    assert log(emulator) == before  # nothing was sent
    assert before[-1] == ("GET", "/v6/api-test", 429)


def test_no_token_is_fetched_until_a_request_is_sent(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    client = client_for(emulator, tmp_path)
    assert log(emulator) == []
    client.transport.budget.answered(  # type: ignore[union-attr]
        client.transport.budget.take(DDNS),  # type: ignore[union-attr]
        429,
        {"X-Rate-Limit-Reset": "9999999999"},
    )
    with pytest.raises(ApiDeferred):
        client.list_dns_entries("example.test")
    assert log(emulator) == []  # not even /auth: nothing could be sent after it


def test_the_auth_a_call_needs_is_charged_to_its_kind(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(rate_limit=2)
    client = client_for(emu, tmp_path, acme_reserve=0.5)  # 1 for DDNS, 1 for ACME
    with pytest.raises(ApiDeferred) as caught:
        client.api_test()  # /auth is the one DDNS request; the call itself would be the second
    assert caught.value.kind == "ddns"
    assert log(emu) == [("POST", "/v6/auth", 201)]


def test_the_auth_an_acme_call_needs_is_acme_work(emulator_factory: Any, tmp_path: Path) -> None:
    """With the DDNS share spent, a certificate still gets its token and its call."""
    emu = emulator_factory(rate_limit=4)
    budget = Budget(StateDir(tmp_path), login=emu.login, api_url=emu.api_url, acme_reserve=0.5)
    ddns, acme = (
        make_client(emu.api_url, emu.login, emu.private_key_path, budget=budget, kind=kind)
        for kind in (DDNS, ACME)
    )  # no token cache: each gets its own token
    assert ddns.api_test() == "pong"  # /auth and the call: the 2 of 4 DDNS may use
    with pytest.raises(ApiDeferred):
        ddns.api_test()
    assert acme.api_test() == "pong"
    assert log(emu) == [("POST", "/v6/auth", 201), ("GET", "/v6/api-test", 200)] * 2
