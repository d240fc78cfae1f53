"""ChallengeService against the emulator (real client, real sockets, real DNS answers)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from daemon_support import wait_for

from ddnsd.acme.journal import Journal
from ddnsd.acme.service import ACMEDNS_KEEP, ChallengeService
from ddnsd.authdns import parse_server, query
from ddnsd.errors import ChallengeRefused, PropagationTimeout, TransipError
from ddnsd.model import DnsEntry
from ddnsd.statedir import StateDir
from ddnsd.transip.budget import ACME as ACME_WORK
from ddnsd.transip.client import TransipClient, make_client

if TYPE_CHECKING:
    from conftest import EmulatorFactory, EmulatorHandle

ACME = "_acme-challenge"
DNS_PATH = "/v6/domains/{domain}/dns"
FQDN = "_acme-challenge.example.test"
APEX_VALUE = "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0"
WILD_VALUE = "61rBZ_4knHblO0MNoxFsXZ_eTFUHum0B6IVRbhvUn5I"


class Clock:
    """Wall clock the test moves (journal ages, domain-cache age)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def client_for(emulator: EmulatorHandle, state_dir: Path, **kw: Any) -> TransipClient:
    return make_client(
        emulator.api_url,
        emulator.login,
        emulator.private_key_path,
        cache_dir=state_dir,
        backoff_base=0.01,
        backoff_cap=0.01,
        kind=ACME_WORK,
        **kw,
    )


def service_for(
    emulator: EmulatorHandle, state_dir: Path, client: TransipClient | None = None, **kw: Any
) -> ChallengeService:
    settings: dict[str, Any] = {
        "nameservers": [emulator.dns_server],
        "poll_interval": 0.1,
        "propagation_timeout": 30,
    }
    settings.update(kw)
    return ChallengeService(
        client or client_for(emulator, state_dir), state=StateDir(state_dir), **settings
    )


class SleepingClock(Clock):
    """The wall clock as it is now, moved on by the service's sleeps (which it records)."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budgeted_service(
    emulator: EmulatorHandle, state_dir: Path, clock: SleepingClock, **kw: Any
) -> ChallengeService:
    """A service whose request budget (shared in ``state_dir``) and sleeps use ``clock``."""
    from ddnsd.transip.budget import Budget

    budget = Budget(
        StateDir(state_dir), login=emulator.login, api_url=emulator.api_url, clock=clock
    )
    client = client_for(emulator, state_dir, budget=budget)
    return service_for(emulator, state_dir, client, sleep=clock.sleep, clock=clock, **kw)


def warm(emulator: EmulatorHandle, state_dir: Path) -> None:
    """What an earlier hook run leaves behind: a cached token and domain list. Stats cleared."""
    service_for(emulator, state_dir).account.domains()
    emulator.reset()


def txt_at(emulator: EmulatorHandle, domain: str, name: str) -> list[DnsEntry]:
    return sorted(
        (e for e in emulator.entries(domain) if e.name == name and e.type == "TXT"),
        key=lambda e: e.content,
    )


def test_apex_and_wildcard_coexist_and_cleanup_removes_exactly_them(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    foreign = DnsEntry("_acme-challenge.www", 60, "TXT", "someone-elses")
    emulator.seed_entry("example.test", foreign)
    before = emulator.state()["domains"]
    service = service_for(emulator, tmp_path)

    service.present(FQDN + ".", APEX_VALUE)  # lego passes a trailing dot
    service.present("_ACME-Challenge.Example.Test", WILD_VALUE)

    assert txt_at(emulator, "example.test", ACME) == [
        DnsEntry(ACME, 60, "TXT", WILD_VALUE),
        DnsEntry(ACME, 60, "TXT", APEX_VALUE),
    ]
    service.cleanup(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == [DnsEntry(ACME, 60, "TXT", WILD_VALUE)]
    service.cleanup(FQDN, WILD_VALUE)
    assert emulator.state()["domains"] == before
    assert Journal(StateDir(tmp_path)).entries() == []


def test_apex_plus_wildcard_costs_four_requests_with_a_cached_token(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    warm(emulator, tmp_path)
    service = service_for(emulator, tmp_path)  # a new process: token + domains from state dir

    service.present(FQDN, APEX_VALUE)
    service.present(FQDN, WILD_VALUE)
    service.cleanup(FQDN, APEX_VALUE)
    service.cleanup(FQDN, WILD_VALUE)

    assert emulator.request_count() == 4
    assert emulator.request_count("POST", "/v6/domains/{domain}/dns") == 2
    assert emulator.request_count("DELETE", "/v6/domains/{domain}/dns") == 2
    assert txt_at(emulator, "example.test", ACME) == []


def test_domain_list_is_cached_in_the_state_dir(emulator: EmulatorHandle, tmp_path: Path) -> None:
    clock = Clock()
    service_for(emulator, tmp_path, clock=clock).present(FQDN, APEX_VALUE)
    assert json.loads((tmp_path / "domains.json").read_text())["domains"] == [
        "example.test",
        "other.test",
    ]
    service_for(emulator, tmp_path, clock=clock).present(FQDN, WILD_VALUE)
    assert emulator.request_count("GET", "/v6/domains") == 1
    clock.now += 86400  # domains_cache_ttl passed: asked again
    service_for(emulator, tmp_path, clock=clock).cleanup(FQDN, APEX_VALUE)
    assert emulator.request_count("GET", "/v6/domains") == 2


def test_expire_mismatch_reuses_the_stored_expire(emulator: EmulatorHandle, tmp_path: Path) -> None:
    foreign = DnsEntry(ACME, 300, "TXT", "placed-by-someone-else")
    emulator.seed_entry("example.test", foreign)
    warm(emulator, tmp_path)
    emulator.seed_entry("example.test", foreign)  # reset() removed it
    service = service_for(emulator, tmp_path)

    service.present(FQDN, APEX_VALUE)

    assert txt_at(emulator, "example.test", ACME) == [
        DnsEntry(ACME, 300, "TXT", APEX_VALUE),
        foreign,
    ]
    assert [e.expire for e in Journal(StateDir(tmp_path)).entries()] == [300]
    assert emulator.request_count("POST") == 2
    assert emulator.request_count("GET") == 1
    service.cleanup(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == [foreign]


def test_already_exists_is_success(emulator: EmulatorHandle, tmp_path: Path) -> None:
    service = service_for(emulator, tmp_path)
    service.present(FQDN, APEX_VALUE)
    service_for(emulator, tmp_path).present(FQDN, APEX_VALUE)  # e.g. the client retried
    assert txt_at(emulator, "example.test", ACME) == [DnsEntry(ACME, 60, "TXT", APEX_VALUE)]
    assert len(Journal(StateDir(tmp_path)).entries()) == 1
    service.cleanup(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == []


def test_cleanup_of_an_entry_already_gone_is_success(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = service_for(emulator, tmp_path)
    service.present(FQDN, APEX_VALUE)
    other = client_for(emulator, tmp_path / "other")
    other.delete_dns_entry("example.test", DnsEntry(ACME, 60, "TXT", APEX_VALUE))

    service.cleanup(FQDN, APEX_VALUE)

    assert Journal(StateDir(tmp_path)).entries() == []
    assert txt_at(emulator, "example.test", ACME) == []


def test_cleanup_follows_an_expire_changed_behind_its_back(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = service_for(emulator, tmp_path)
    service.present(FQDN, APEX_VALUE)
    other = client_for(emulator, tmp_path / "other")
    other.delete_dns_entry("example.test", DnsEntry(ACME, 60, "TXT", APEX_VALUE))
    other.add_dns_entry("example.test", DnsEntry(ACME, 120, "TXT", APEX_VALUE))

    service.cleanup(FQDN, APEX_VALUE)

    assert txt_at(emulator, "example.test", ACME) == []


def test_cleanup_never_touches_values_ddnsd_did_not_add(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    foreign = DnsEntry(ACME, 60, "TXT", APEX_VALUE)
    emulator.seed_entry("example.test", foreign)
    service_for(emulator, tmp_path).cleanup(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == [foreign]
    assert emulator.request_count("DELETE") == 0


@pytest.mark.parametrize(
    ("fqdn", "zones", "message"),
    [
        pytest.param(
            "www.example.test",
            None,
            "refusing 'www.example.test': ddnsd only writes ACME challenge records, "
            "whose names start with '_acme-challenge.'",
            id="not-acme",
        ),
        pytest.param(
            "_acme-challenge.example.org",
            None,
            "refusing '_acme-challenge.example.org': it is outside the allowed zones "
            "(example.test, other.test); add its domain to [acme] zones to allow it",
            id="outside-account",
        ),
        pytest.param(
            "_acme-challenge.other.test",
            ["example.test"],
            "refusing '_acme-challenge.other.test': it is outside the allowed zones "
            "(example.test); add its domain to [acme] zones to allow it",
            id="outside-configured-zones",
        ),
        pytest.param(
            "_acme-challenge.www.nowhere.test",
            ["nowhere.test"],
            "refusing '_acme-challenge.www.nowhere.test': [acme] zones lists 'nowhere.test', "
            "but it is not a domain of this TransIP account; list only account domains there",
            id="allowed-but-not-in-account",
        ),
    ],
)
def test_refused_names_change_nothing(
    emulator: EmulatorHandle,
    tmp_path: Path,
    fqdn: str,
    zones: list[str] | None,
    message: str,
) -> None:
    before = emulator.state()["domains"]
    service = service_for(emulator, tmp_path, zones=zones)
    with pytest.raises(ChallengeRefused) as info:
        service.present(fqdn, APEX_VALUE)
    assert str(info.value) == message
    if "outside the allowed zones" in message or "only writes ACME" in message:
        with pytest.raises(ChallengeRefused) as info:
            service.cleanup(fqdn, APEX_VALUE)
        assert str(info.value) == message
    else:  # allowed, but nothing of ours can be there: nothing to do
        service.cleanup(fqdn, APEX_VALUE)
    assert emulator.state()["domains"] == before
    # A configured zone is trusted to be an account domain (no GET /domains on a cold
    # start); when it is not, TransIP's 404 to the one POST becomes the refusal.
    refused_posts = 1 if "not a domain of this TransIP account" in message else 0
    assert emulator.request_count("POST", DNS_PATH) == refused_posts
    assert emulator.request_count("DELETE") == 0
    assert Journal(StateDir(tmp_path)).entries() == []


def test_present_returns_only_once_the_nameserver_serves_it(
    emulator_factory: EmulatorFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = emulator_factory(propagation_delay=3)
    caplog.set_level(logging.INFO, "ddnsd.acme")
    service_for(emulator, tmp_path).present(FQDN, APEX_VALUE)

    assert APEX_VALUE in query(parse_server(emulator.dns_server), FQDN, "TXT")
    states = [
        r.getMessage()
        for r in caplog.records
        if r.name == "ddnsd.acme.propagation" and r.getMessage().startswith(emulator.dns_server)
    ]
    assert len(states) == 2
    assert states[0] == f"{emulator.dns_server}: waiting for {FQDN} TXT '{APEX_VALUE}'"
    assert states[1].startswith(f"{emulator.dns_server}: serves {FQDN} TXT after ")


def test_propagation_timeout_names_the_lagging_nameserver(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(propagation_delay=60)
    service = service_for(emulator, tmp_path, propagation_timeout=1.0)
    with pytest.raises(PropagationTimeout) as info:
        service.present(FQDN, APEX_VALUE)
    assert info.value.lagging == [emulator.dns_server]
    assert str(info.value).startswith(f"{FQDN} TXT was not served by {emulator.dns_server} after")
    # Added and journalled: the ACME client's cleanup (or the stale cleanup) removes it.
    assert [e.content for e in Journal(StateDir(tmp_path)).entries()] == [APEX_VALUE]
    service.cleanup(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == []


def test_stale_entries_are_cleaned_up_by_the_next_process(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    clock = Clock()
    crashed = service_for(emulator, tmp_path, clock=clock)
    crashed.present(FQDN, APEX_VALUE)  # ... and the process died before cleanup
    clock.now += 600
    crashed.present("_acme-challenge.www.other.test", WILD_VALUE)  # younger
    crashed.journal.release_cleanup_owner()  # as if the process had exited

    clock.now += 3600 - 599  # the first is older than max_age, the second not
    successor = service_for(emulator, tmp_path, clock=clock)
    assert successor.cleanup_stale() == 1
    assert txt_at(emulator, "example.test", ACME) == []
    assert [e.content for e in Journal(StateDir(tmp_path)).entries()] == [WILD_VALUE]

    clock.now += 600
    assert successor.cleanup_stale() == 1
    assert txt_at(emulator, "other.test", "_acme-challenge.www") == []
    assert Journal(StateDir(tmp_path)).entries() == []


def test_only_the_cleanup_owner_cleans_stale_entries(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    clock = Clock()
    service_for(emulator, tmp_path, clock=clock).present(FQDN, APEX_VALUE)
    clock.now += 7200
    Journal(StateDir(tmp_path)).release_cleanup_owner()
    fd = os.open(tmp_path / "acme-cleanup.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another process would hold it
        assert service_for(emulator, tmp_path, clock=clock).cleanup_stale() == 0
        assert [e.content for e in txt_at(emulator, "example.test", ACME)] == [APEX_VALUE]
    finally:
        os.close(fd)
    assert service_for(emulator, tmp_path, clock=clock).cleanup_stale() == 1


def test_update_keeps_every_value_up_to_the_bound_and_the_sweep_ages_them_out(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    foreign = DnsEntry(ACME, 60, "TXT", "not-ours")
    emulator.seed_entry("example.test", foreign)
    clock = Clock()
    service = service_for(emulator, tmp_path, clock=clock)
    values = [f"value-{i:02d}" for i in range(ACMEDNS_KEEP + 1)]
    for value in values[:3]:
        service.update_keep_newest(FQDN, value)
        clock.now += 10
    assert [e.content for e in txt_at(emulator, "example.test", ACME)] == [
        "not-ours",
        *values[:3],
    ]
    for value in values[3:]:
        service.update_keep_newest(FQDN, value)
        clock.now += 10
    kept = values[1:]  # past the bound, the oldest went first
    assert [e.content for e in txt_at(emulator, "example.test", ACME)] == ["not-ours", *kept]
    service.update_keep_newest(FQDN, values[1])  # re-sent: it becomes the newest again
    service.update_keep_newest(FQDN, "newest")
    kept = ["newest", values[1], *values[3:]]  # the re-sent one stays, the next oldest goes
    assert sorted(e.content for e in Journal(StateDir(tmp_path)).entries()) == sorted(kept)
    assert sorted(e.content for e in txt_at(emulator, "example.test", ACME)) == sorted(
        ["not-ours", *kept]
    )

    clock.now += 3601  # past [acme] max_age (3600 s)
    assert service.cleanup_stale() == ACMEDNS_KEEP
    assert [e.content for e in txt_at(emulator, "example.test", ACME)] == ["not-ours"]


def test_lost_post_is_checked_before_retrying(emulator: EmulatorHandle, tmp_path: Path) -> None:
    warm(emulator, tmp_path)
    emulator.script_faults([{"kind": "lost", "method": "POST", "path": "/v6/domains/{domain}/dns"}])
    service_for(emulator, tmp_path).present(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == [DnsEntry(ACME, 60, "TXT", APEX_VALUE)]
    assert emulator.request_count("POST") == 1
    assert emulator.request_count("GET") == 1


def test_lost_post_stays_journalled_when_the_check_fails(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The lost POST landed but the GET meant to see it was refused: the value stays in
    the journal, so the stale cleanup removes it instead of leaving it forever."""
    warm(emulator, tmp_path)
    clock = Clock()
    client = client_for(emulator, tmp_path, max_retries=0)
    emulator.script_faults(
        [
            {"kind": "lost", "method": "POST", "path": DNS_PATH},
            {"kind": "409", "method": "GET", "path": DNS_PATH},
        ]
    )
    with pytest.raises(TransipError):
        service_for(emulator, tmp_path, client, clock=clock).present(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == [DnsEntry(ACME, 60, "TXT", APEX_VALUE)]
    Journal(StateDir(tmp_path)).release_cleanup_owner()

    clock.now += 7200
    assert service_for(emulator, tmp_path, clock=clock).cleanup_stale() == 1
    assert txt_at(emulator, "example.test", ACME) == []


def test_a_post_landing_after_its_cleanup_is_removed_by_the_next_sweep(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    """The POST timed out (it is still on its way), the check was refused, the cleanup
    found nothing to delete: the value stays pending removal until no POST can land, and
    the next sweep deletes it as soon as it has landed."""
    emulator = emulator_factory(slow_seconds=3)
    warm(emulator, tmp_path)
    clock = Clock()
    client = client_for(emulator, tmp_path, max_retries=0, timeout=0.5)
    service = service_for(emulator, tmp_path, client, clock=clock)
    emulator.script_faults(
        [
            {"kind": "slow", "method": "POST", "path": DNS_PATH},
            {"kind": "409", "method": "GET", "path": DNS_PATH},
        ]
    )
    with pytest.raises(TransipError):
        service.present(FQDN, APEX_VALUE)
    service.cleanup(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == []
    assert [e.content for e in Journal(StateDir(tmp_path)).entries()] == [
        APEX_VALUE
    ]  # pending removal

    wait_for(lambda: txt_at(emulator, "example.test", ACME) != [], what="the slow POST to land")
    assert service.cleanup_stale() == 1  # landed: deleted at once ...
    assert txt_at(emulator, "example.test", ACME) == []
    assert [e.content for e in Journal(StateDir(tmp_path)).entries()] == [
        APEX_VALUE
    ]  # ... still pending
    clock.now += 70  # the default window: a 10 s client timeout plus a minute to save
    assert service.cleanup_stale() == 0  # nothing left to delete: forgotten
    assert Journal(StateDir(tmp_path)).entries() == []


def test_post_answered_500_is_retried_once_after_a_check(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    warm(emulator, tmp_path)
    emulator.script_faults([{"kind": "500", "method": "POST", "path": "/v6/domains/{domain}/dns"}])
    service_for(emulator, tmp_path).present(FQDN, APEX_VALUE)
    assert txt_at(emulator, "example.test", ACME) == [DnsEntry(ACME, 60, "TXT", APEX_VALUE)]
    assert emulator.request_count("POST") == 2


def test_cname_into_another_account_domain_is_followed(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.seed_entry("example.test", DnsEntry(ACME, 300, "CNAME", "acme.other.test."))
    service = service_for(emulator, tmp_path, cname_follow=True)

    service.present(FQDN, APEX_VALUE)

    assert txt_at(emulator, "other.test", "acme") == [DnsEntry("acme", 60, "TXT", APEX_VALUE)]
    assert txt_at(emulator, "example.test", ACME) == []
    service.cleanup(FQDN, APEX_VALUE)
    assert txt_at(emulator, "other.test", "acme") == []


def test_cname_out_of_the_allowed_zones_is_refused(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.seed_entry("example.test", DnsEntry(ACME, 300, "CNAME", "acme.other.test."))
    service = service_for(emulator, tmp_path, cname_follow=True, zones=["example.test"])
    with pytest.raises(ChallengeRefused) as info:
        service.present(FQDN, APEX_VALUE)
    assert str(info.value) == (
        "refusing '_acme-challenge.example.test': it is a CNAME to 'acme.other.test', outside "
        "the allowed zones (example.test); add its domain to [acme] zones"
    )
    assert emulator.request_count("POST", DNS_PATH) == 0


@pytest.mark.parametrize(
    ("reset", "waits"), [(20, True), (60, False)], ids=["reset-within-timeout", "reset-beyond"]
)
def test_rate_limit_wait_within_the_propagation_timeout(
    emulator: EmulatorHandle, tmp_path: Path, reset: int, waits: bool
) -> None:
    """A 429 during present: wait (sending nothing) when the reset comes within the
    propagation timeout (30 s), else fail with the deferral; on an injected clock."""

    from ddnsd.errors import ApiDeferred

    clock = SleepingClock()
    slept = clock.slept
    service = budgeted_service(emulator, tmp_path, clock, zones=["example.test"])
    emulator.script_faults(
        [{"kind": "ratelimit", "method": "POST", "path": DNS_PATH, "reset": reset}]
    )
    if waits:
        began = time.time()
        service.present(FQDN, APEX_VALUE)
        # The emulator's reset is on the real clock: the real time the request took to
        # reach it is on top (a loaded machine took over a second: 22.03 s for a 20 s reset).
        late = time.time() - began
        assert len(slept) == 1 and reset <= slept[0] <= reset + 2 + late
        assert [e.content for e in emulator.entries("example.test") if e.type == "TXT"][-1:] == [
            APEX_VALUE
        ]
        assert emulator.request_count("POST", DNS_PATH) == 2  # the 429, then after the reset
    else:
        with pytest.raises(ApiDeferred, match="429 Rate limit"):
            service.present(FQDN, APEX_VALUE)
        assert slept == []
        assert emulator.request_count("POST", DNS_PATH) == 1
        assert Journal(StateDir(tmp_path)).entries() == []  # nothing left to clean up


RATE_LIMITED = {
    "present: the domain list (no [acme] zones)": ("present", None, "GET", "/v6/domains"),
    "present: the POST ([acme] zones)": ("present", ["example.test"], "POST", DNS_PATH),
    "cleanup: the domain list (no [acme] zones)": ("cleanup", None, "GET", "/v6/domains"),
    "cleanup: the DELETE": ("cleanup", None, "DELETE", DNS_PATH),
    "a hook's sweep: the DELETE": ("sweep", None, "DELETE", DNS_PATH),
}


@pytest.mark.parametrize(
    ("action", "zones", "method", "path"), list(RATE_LIMITED.values()), ids=list(RATE_LIMITED)
)
def test_every_request_of_a_challenge_waits_for_a_429_reset_within_the_timeout(
    emulator: EmulatorHandle,
    tmp_path: Path,
    action: str,
    zones: list[str] | None,
    method: str,
    path: str,
) -> None:
    """Whichever request of a hook gets the 429 (the zone check's ``GET /domains`` too), it
    waits for the reset (sending nothing) and then does its work; on an injected clock."""
    clock = SleepingClock()

    def service() -> ChallengeService:
        return budgeted_service(emulator, tmp_path, clock, zones=zones)

    if action != "present":  # a value an earlier hook added, by a process now gone
        if action == "sweep":
            clock.now -= 7200  # older than max_age: the sweep's
        service().present(FQDN, APEX_VALUE)
        Journal(StateDir(tmp_path)).release_cleanup_owner()
        clock.now = time.time()
    (tmp_path / "domains.json").unlink(missing_ok=True)  # each hook run is a fresh process
    before = emulator.request_count(method, path)
    emulator.script_faults([{"kind": "ratelimit", "method": method, "path": path, "reset": 20}])

    hook = service()
    if action == "present":
        hook.present(FQDN, APEX_VALUE)
    elif action == "cleanup":
        hook.cleanup(FQDN, APEX_VALUE)
    else:
        assert hook.cleanup_stale(wait=True) == 1

    assert len(clock.slept) == 1 and clock.slept[0] >= 20  # one wait, up to the reset
    assert emulator.request_count(method, path) - before == 2  # the 429, then after the reset
    expected = [APEX_VALUE] if action == "present" else []
    assert [e.content for e in txt_at(emulator, "example.test", ACME)] == expected


def test_a_sweep_reads_each_zone_once_and_deletes_only_what_it_finds(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Values pending removal cost a sweep one GET of their zone, not a DELETE (and a GET)
    each: five that never landed and one that did → one GET and one DELETE; once their
    windows pass, the journal forgets them."""
    warm(emulator, tmp_path)
    clock = Clock()
    clock.now = time.time()
    service = service_for(emulator, tmp_path, clock=clock)
    journal = Journal(StateDir(tmp_path), clock=clock)
    values = [f"never-landed-{i}" for i in range(5)] + ["landed-late"]
    for v in values:
        journal.add("example.test", DnsEntry(ACME, 60, "TXT", v), FQDN)
    with journal.transaction() as entries:  # cleaned up while their POSTs were in doubt
        entries[:] = [replace(e, pending_removal=True, attempt=clock.now) for e in entries]
    emulator.reset()  # the request counts (and zones) start afresh
    emulator.seed_entry("example.test", DnsEntry(ACME, 60, "TXT", "landed-late"))

    assert service.cleanup_stale() == 1
    assert txt_at(emulator, "example.test", ACME) == []
    assert emulator.request_count("GET", DNS_PATH) == 1
    assert emulator.request_count("DELETE", DNS_PATH) == 1
    assert sorted(e.content for e in journal.entries()) == sorted(values)  # still pending

    clock.now += 70  # the default window: no POST of them can land any more
    assert service.cleanup_stale() == 0
    assert journal.entries() == []
    assert emulator.request_count("DELETE", DNS_PATH) == 1
