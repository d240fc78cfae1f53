"""Injected faults (scripted and seeded-random) and the state file of the emulator."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from daemon_support import wait_for

from ddnsd.emulator.zones import default_entries
from ddnsd.model import DnsEntry

DNS_PATH = "/v6/domains/{domain}/dns"
HOME = {"dnsEntry": {"name": "home", "expire": 300, "type": "A", "content": "192.0.2.1"}}


def write(
    emulator: Any, token: str, method: str = "POST", body: Any = None, query: str = ""
) -> Any:
    """Status code of one write, or "lost" when the connection dropped without an answer."""
    try:
        r = requests.request(
            method,
            f"{emulator.api_url}/domains/example.test/dns{query}",
            json=HOME if body is None else body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except requests.ConnectionError:
        return "lost"
    return r


def test_lost_answer_is_applied_but_never_answered(emulator: Any) -> None:
    token = emulator.token()
    emulator.script_faults([{"kind": "lost", "method": "POST", "path": DNS_PATH}])
    assert write(emulator, token) == "lost"
    assert DnsEntry("home", 300, "A", "192.0.2.1") in emulator.entries("example.test")
    assert emulator.request_count("POST", DNS_PATH) == 1
    rows = [r for r in emulator.stats()["requests"] if r["path"] == DNS_PATH]
    assert rows == [{"method": "POST", "path": DNS_PATH, "status": 0, "count": 1}]
    # a retry of the same POST now finds the entry already there
    r = write(emulator, token)
    assert (r.status_code, r.json()) == (
        406,
        {"error": "The DNS entry 'home 300 A 192.0.2.1' already exists"},
    )


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("500", 500, "Internal server error"),
        ("409", 409, "Error fetching Dns Entries: DNS Entries are currently being saved"),
    ],
    ids=["500", "409-being-saved"],
)
def test_failing_faults_apply_nothing(emulator: Any, kind: str, status: int, error: str) -> None:
    token = emulator.token()
    emulator.script_faults([{"kind": kind, "method": "POST", "path": DNS_PATH}])
    r = write(emulator, token)
    assert (r.status_code, r.json()) == (status, {"error": error})
    assert emulator.entries("example.test") == default_entries("example.test")
    assert write(emulator, token).status_code == 201  # the script is used up


def test_slow_fault_still_answers(emulator: Any) -> None:
    token = emulator.token()
    emulator.script_faults([{"kind": "slow"}])
    assert write(emulator, token).status_code == 201


def test_a_client_gone_before_its_slow_answer_is_one_line_not_a_traceback(
    emulator_factory: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator = emulator_factory(slow_seconds=1.0)
    token = emulator.token()
    emulator.script_faults([{"kind": "slow"}])
    with caplog.at_level(logging.INFO, logger="ddnsd.emulator"):
        with pytest.raises(requests.Timeout):
            requests.post(
                f"{emulator.api_url}/domains/example.test/dns",
                json=HOME,
                headers={"Authorization": f"Bearer {token}"},
                timeout=0.2,
            )
        home = DnsEntry("home", 300, "A", "192.0.2.1")
        wait_for(lambda: home in emulator.entries("example.test"), what="the slow POST")
        wait_for(
            lambda: any("went away" in r.getMessage() for r in caplog.records),
            what="the emulator's 'went away' line",
        )
    assert not [r for r in caplog.records if r.exc_info]
    assert "Traceback" not in capfd.readouterr().err


def test_injected_faults_are_counted_by_kind(emulator: Any) -> None:
    token = emulator.token()
    emulator.script_faults([{"kind": "409"}, {"kind": "500"}, {"kind": "409"}])
    assert [write(emulator, token).status_code for _ in range(4)] == [409, 500, 409, 201]
    assert emulator.faults()["injected"] == {"409": 2, "500": 1}
    emulator.reset()
    assert emulator.faults()["injected"] == {}


def test_script_faults_match_method_and_path_in_order(emulator: Any) -> None:
    token = emulator.token()
    emulator.script_faults(
        [
            {"kind": "500", "method": "DELETE", "path": DNS_PATH},
            {"kind": "409", "method": "POST", "path": DNS_PATH},
            {"kind": "500", "method": "POST", "path": DNS_PATH},
        ]
    )
    auth = {"Authorization": f"Bearer {token}"}
    get = requests.get(f"{emulator.api_url}/domains/example.test/dns", headers=auth, timeout=10)
    assert get.status_code == 200  # not scripted
    assert [write(emulator, token).status_code for _ in range(3)] == [409, 500, 201]
    delete = write(emulator, token, "DELETE")
    assert delete.status_code == 500


def test_auth_can_be_scripted_to_fail(emulator: Any) -> None:
    emulator.script_faults([{"kind": "500", "path": "/v6/auth"}])
    raw, sig = emulator.signed_auth_body()
    r = requests.post(emulator.api_url + "/auth", data=raw, headers={"Signature": sig}, timeout=10)
    assert r.status_code == 500


def _outcomes(emulator: Any, n: int) -> list[Any]:
    token = emulator.token()
    out = []
    for _ in range(n):
        r = write(emulator, token, query="?test=1")
        out.append(r if r == "lost" else r.status_code)
    return out


def test_random_faults_repeat_with_the_seed(emulator_factory: Any) -> None:
    first = _outcomes(emulator_factory(fault_rate=0.5, seed=7, slow_seconds=0.01), 24)
    second = _outcomes(emulator_factory(fault_rate=0.5, seed=7, slow_seconds=0.01), 24)
    assert first == second
    assert {500, 409, "lost"} & set(first)
    assert 201 in first


def test_random_faults_only_hit_writes(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_rate=1.0)
    token = emu.token()
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(5):
        r = requests.get(f"{emu.api_url}/domains/example.test/dns", headers=auth, timeout=10)
        assert r.status_code == 200


def test_faults_endpoint_sets_rate_kinds_and_seed(emulator: Any) -> None:
    token = emulator.token()
    assert emulator.faults(rate=1.0, kinds=["409"], seed=1)["rate"] == 1.0
    assert write(emulator, token).status_code == 409
    emulator.faults(rate=0.0)
    assert write(emulator, token).status_code == 201
    r = requests.post(emulator.base_url + "/_emulator/faults", json={"kinds": ["boom"]}, timeout=5)
    assert r.status_code == 406


def test_reset_clears_faults(emulator: Any) -> None:
    token = emulator.token()
    emulator.faults(rate=1.0, kinds=["500"])
    emulator.script_faults([{"kind": "409"}])
    emulator.reset()
    assert write(emulator, token).status_code == 201


def test_state_file_is_written_and_loaded(emulator_factory: Any, tmp_path: Path) -> None:
    state = tmp_path / "zones.json"
    emu = emulator_factory(state_file=state)
    r = write(emu, emu.token())
    assert r.status_code == 201
    saved = json.loads(state.read_text())
    assert {"name": "home", "expire": 300, "type": "A", "content": "192.0.2.1"} in saved["domains"][
        "example.test"
    ]
    emu.emulator.stop()
    again = emulator_factory(state_file=state)
    assert DnsEntry("home", 300, "A", "192.0.2.1") in again.entries("example.test")
    assert again.entries("other.test") == default_entries("other.test")


def test_state_file_domain_not_yet_saved_starts_with_defaults(
    emulator_factory: Any, tmp_path: Path
) -> None:
    state = tmp_path / "zones.json"
    state.write_text(json.dumps({"domains": {"example.test": []}}))
    emu = emulator_factory(state_file=state)
    assert emu.entries("example.test") == []
    assert emu.entries("other.test") == default_entries("other.test")


def test_ratelimit_fault_answers_429_with_a_reset_ahead(emulator: Any) -> None:
    token = emulator.token()
    emulator.script_faults([{"kind": "ratelimit", "method": "POST", "path": DNS_PATH, "reset": 30}])
    before = time.time()
    r = write(emulator, token)
    assert r.status_code == 429
    assert r.json()["error"].startswith("Rate limit of 1000 requests per 15 minutes exceeded")
    assert r.headers["X-Rate-Limit-Remaining"] == "0"
    assert before + 30 <= int(r.headers["X-Rate-Limit-Reset"]) <= time.time() + 31
    assert emulator.entries("example.test") == default_entries("example.test")  # not applied
    assert write(emulator, token).status_code == 201  # one answer, not a blocked login
    rows = {(row["method"], row["status"]): row["count"] for row in emulator.stats()["requests"]}
    assert rows[("POST", 429)] == 1  # the 429 is counted like any other answer


def test_ratelimit_fault_reset_is_checked(emulator: Any) -> None:
    for bad in ("soon", -1, 1e9):
        r = requests.post(
            emulator.base_url + "/_emulator/faults",
            json={"script": [{"kind": "ratelimit", "reset": bad}]},
            timeout=5,
        )
        assert r.status_code == 406, bad


def test_log_lists_every_request_with_its_arrival_time(emulator: Any) -> None:
    before = time.time()
    token = emulator.token()
    emulator.script_faults([{"kind": "ratelimit", "method": "GET"}])
    auth = {"Authorization": f"Bearer {token}"}
    r = requests.get(f"{emulator.api_url}/domains/example.test/dns", headers=auth, timeout=10)
    assert r.status_code == 429
    rows = requests.get(emulator.base_url + "/_emulator/log", timeout=5).json()["requests"]
    assert [(row["method"], row["path"], row["status"]) for row in rows] == [
        ("POST", "/v6/auth", 201),
        ("GET", DNS_PATH, 429),
    ]
    assert before <= rows[0]["at"] <= rows[1]["at"] <= time.time()
    emulator.reset()
    assert requests.get(emulator.base_url + "/_emulator/log", timeout=5).json() == {"requests": []}


CONTROL_REFUSALS = {
    "rate-not-a-number": ("/_emulator/faults", '{"rate": "abc"}', "Fault rate must be a number"),
    "rate-nan": ("/_emulator/faults", '{"rate": NaN}', "Fault rate must be a number"),
    "rate-true": ("/_emulator/faults", '{"rate": true}', "Fault rate must be a number"),
    "rate-above-1": ("/_emulator/faults", '{"rate": 2}', "Fault rate must be a number from 0 to 1"),
    "kinds-not-a-list": ("/_emulator/faults", '{"kinds": "500"}', "Fault kinds must be a list"),
    "seed-text": ("/_emulator/faults", '{"seed": "x"}', "The seed must be a number"),
    "script-not-a-list": ("/_emulator/faults", '{"script": 5}', "The script must be a list"),
    "script-item-not-object": ("/_emulator/faults", '{"script": [1]}', "Each script item"),
    "reset-infinite": (
        "/_emulator/faults",
        '{"script": [{"kind": "ratelimit", "reset": Infinity}]}',
        "A fault's 'reset' (seconds) must be a number",
    ),
    "method-a-number": (
        "/_emulator/faults",
        '{"script": [{"kind": "500", "method": 5}]}',
        "A fault's 'method' must be a string",
    ),
    "path-a-number": (
        "/_emulator/faults",
        '{"script": [{"kind": "500", "path": 5}]}',
        "A fault's 'path' must be a string",
    ),
    "a good rate with bad kinds": (
        "/_emulator/faults",
        '{"rate": 0.5, "kinds": "500"}',
        "Fault kinds must be a list",
    ),
    "a good script with a bad seed": (
        "/_emulator/faults",
        '{"script": [{"kind": "500"}], "seed": "x"}',
        "The seed must be a number",
    ),
    "delay-nan": ("/_emulator/delay", '{"propagation_delay": NaN}', "propagation_delay"),
    "delay-negative": ("/_emulator/delay", '{"propagation_delay": -1}', "propagation_delay"),
    "delay-text": ("/_emulator/delay", '{"propagation_delay": "soon"}', "propagation_delay"),
}


@pytest.mark.parametrize(
    ("path", "body", "error"), CONTROL_REFUSALS.values(), ids=CONTROL_REFUSALS.keys()
)
def test_control_endpoints_refuse_bad_values_with_one_line(
    emulator: Any, path: str, body: str, error: str
) -> None:
    """A bad control request is a 406 naming the value (not a dropped connection and a
    traceback), and changes nothing."""
    before = emulator.faults()
    r = requests.post(emulator.base_url + path, data=body, timeout=10)
    assert r.status_code == 406
    assert r.json()["error"].startswith(error)
    assert emulator.faults() == before
    delay = requests.post(emulator.base_url + "/_emulator/delay", json={}, timeout=10)
    assert delay.json() == {"propagation_delay": 0.0}
