"""lego exec, certbot and dehydrated front doors against the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from daemon_support import challenge_service

from ddnsd.acme import hooks
from ddnsd.acme.challenge import challenge_value
from ddnsd.acme.journal import Journal
from ddnsd.acme.service import ChallengeService
from ddnsd.errors import ConfigError
from ddnsd.model import DnsEntry
from ddnsd.statedir import StateDir

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import EmulatorHandle

ACME = "_acme-challenge"
KEYAUTH_APEX = "token-a.thumbprint"
KEYAUTH_WILD = "token-b.thumbprint"


def factory_for(
    emulator: EmulatorHandle, state_dir: Path, **overrides: Any
) -> Callable[[], ChallengeService]:
    """A hook's service factory: daemon_support's service, every account domain allowed."""
    settings: dict[str, Any] = {"zones": None, "poll_interval": 0.1, **overrides}
    return lambda: challenge_service(emulator, state_dir, **settings)


def acme_txt(emulator: EmulatorHandle, domain: str = "example.test") -> list[str]:
    return sorted(e.content for e in emulator.entries(domain) if e.name == ACME and e.type == "TXT")


def test_lego_exec_default_mode(emulator: EmulatorHandle, tmp_path: Path) -> None:
    factory = factory_for(emulator, tmp_path)
    fqdn = "_acme-challenge.example.test."
    assert hooks.lego_exec("present", [fqdn, "value-a"], factory) == 0
    assert hooks.lego_exec("present", [fqdn, "value-b"], factory) == 0
    assert acme_txt(emulator) == ["value-a", "value-b"]
    assert hooks.lego_exec("cleanup", [fqdn, "value-a"], factory) == 0
    assert hooks.lego_exec("cleanup", [fqdn, "value-b"], factory) == 0
    assert acme_txt(emulator) == []


def test_lego_exec_raw_mode(emulator: EmulatorHandle, tmp_path: Path) -> None:
    factory = factory_for(emulator, tmp_path)
    assert hooks.lego_exec("present", ["--", "example.test", "tok", KEYAUTH_APEX], factory) == 0
    assert hooks.lego_exec("present", ["--", "*.example.test", "tok", KEYAUTH_WILD], factory) == 0
    assert acme_txt(emulator) == sorted(
        [challenge_value(KEYAUTH_APEX), challenge_value(KEYAUTH_WILD)]
    )
    assert hooks.lego_exec("cleanup", ["--", "example.test", "tok", KEYAUTH_APEX], factory) == 0
    # the "--" eaten by a wrapper: three arguments are RAW too
    assert hooks.lego_exec("cleanup", ["*.example.test", "tok", KEYAUTH_WILD], factory) == 0
    assert acme_txt(emulator) == []


def test_certbot_apex_and_wildcard(emulator: EmulatorHandle, tmp_path: Path) -> None:
    factory = factory_for(emulator, tmp_path)
    # certbot runs every auth hook, then validates, then every cleanup hook; the wildcard
    # arrives as the bare domain.
    runs = [
        {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": "value-apex"},
        {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": "value-wild"},
    ]
    for env in runs:
        assert hooks.certbot("auth", env, factory) == 0
    assert acme_txt(emulator) == ["value-apex", "value-wild"]
    for env in runs:
        assert hooks.certbot("cleanup", env, factory) == 0
    assert acme_txt(emulator) == []


def test_certbot_only_the_last_auth_hook_waits_for_all(
    emulator_factory: Any, tmp_path: Path
) -> None:
    """certbot says how many challenges follow; earlier hooks only add their value, the
    last one returns once every nameserver serves all of them."""
    from ddnsd.authdns import parse_server, query

    emulator = emulator_factory(propagation_delay=30.0)
    factory = factory_for(emulator, tmp_path)
    ns = parse_server(emulator.dns_server)
    common = {"CERTBOT_DOMAIN": "example.test", "CERTBOT_ALL_DOMAINS": "example.test,example.test"}
    first = {**common, "CERTBOT_VALIDATION": "value-apex", "CERTBOT_REMAINING_CHALLENGES": "1"}
    assert hooks.certbot("auth", first, factory) == 0
    assert acme_txt(emulator) == ["value-apex"]  # stored at TransIP ...
    assert query(ns, "_acme-challenge.example.test", "TXT") == []  # ... not served yet
    emulator.set_propagation_delay(1.0)
    last = {**common, "CERTBOT_VALIDATION": "value-wild", "CERTBOT_REMAINING_CHALLENGES": "0"}
    assert hooks.certbot("auth", last, factory) == 0
    served = sorted(query(ns, "_acme-challenge.example.test", "TXT"))
    assert served == ["value-apex", "value-wild"]


def test_certbot_last_hook_ignores_older_journal_values(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A value journalled minutes ago whose TXT is gone (removed by hand) is not part of
    this certificate's run: the last hook must not wait for it."""
    import time

    old = Journal(StateDir(tmp_path), clock=lambda: time.time() - 120)
    old.add(
        "example.test", DnsEntry(ACME, 60, "TXT", "gone-by-hand"), "_acme-challenge.example.test"
    )

    factory = factory_for(emulator, tmp_path, propagation_timeout=5)
    env = {
        "CERTBOT_DOMAIN": "example.test",
        "CERTBOT_ALL_DOMAINS": "example.test",
        "CERTBOT_VALIDATION": "value-now",
        "CERTBOT_REMAINING_CHALLENGES": "0",
    }
    assert hooks.certbot("auth", env, factory) == 0
    assert acme_txt(emulator) == ["value-now"]


@pytest.mark.parametrize("chain", [False, True], ids=["HOOK_CHAIN=no", "HOOK_CHAIN=yes"])
def test_dehydrated(emulator: EmulatorHandle, tmp_path: Path, chain: bool) -> None:
    factory = factory_for(emulator, tmp_path)
    triples = [
        ["example.test", "tokfile-a", "value-apex"],
        ["example.test", "tokfile-b", "value-wild"],
        ["www.other.test", "tokfile-c", "value-www"],
    ]
    calls = [[arg for triple in triples for arg in triple]] if chain else triples
    for args in calls:
        assert hooks.dehydrated(["deploy_challenge", *args], factory) == 0
    assert acme_txt(emulator) == ["value-apex", "value-wild"]
    assert [e.content for e in emulator.entries("other.test") if e.type == "TXT"][-1:] == [
        "value-www"
    ]
    for args in calls:
        assert hooks.dehydrated(["clean_challenge", *args], factory) == 0
    assert acme_txt(emulator) == []
    assert Journal(StateDir(tmp_path)).entries() == []


def test_refused_name_is_one_line_and_exit_1(
    emulator: EmulatorHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = hooks.lego_exec("present", ["www.example.test.", "v"], factory_for(emulator, tmp_path))
    assert code == 1
    assert capsys.readouterr().err == (
        "ddnsd: present www.example.test failed: refusing 'www.example.test': ddnsd only "
        "writes ACME challenge records, whose names start with '_acme-challenge.'\n"
    )


def test_factory_error_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> ChallengeService:
        raise ConfigError("config file /nonexistent.toml not found; pass -c FILE")

    env = {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": "v"}
    assert hooks.certbot("auth", env, broken) == 1
    assert capsys.readouterr().err == (
        "ddnsd: present _acme-challenge.example.test failed: "
        "config file /nonexistent.toml not found; pass -c FILE\n"
    )


def test_each_hook_run_cleans_up_stale_entries_first(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    journal = Journal(StateDir(tmp_path), clock=lambda: 0.0)  # written long ago by a killed process
    stale = DnsEntry(ACME, 60, "TXT", "left-behind")
    emulator.seed_entry("example.test", stale)
    journal.add("example.test", stale, "_acme-challenge.example.test")

    factory = factory_for(emulator, tmp_path)
    assert hooks.lego_exec("present", ["_acme-challenge.example.test", "fresh"], factory) == 0
    assert acme_txt(emulator) == ["fresh"]
