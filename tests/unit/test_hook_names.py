"""Names and values at the hook front doors: lego exec (both modes), certbot, dehydrated.

Every refused name (tests/hostile_names.py) exits 2 with one line naming it escaped,
before any config is loaded; accepted ones reach the service normalised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hostile_names import ACCEPTED, REFUSED, fqdn

from ddnsd.acme import hooks
from ddnsd.acme.challenge import challenge_name
from ddnsd.acme.service import ChallengeService

VALUE = "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0"


def no_factory() -> ChallengeService:
    raise AssertionError("a refused name must not load the config or build the service")


class Recorder:
    """Stands in for the service; records what the hook hands it."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.calls: list[tuple[str, object]] = []

    def cleanup_stale(self, *, wait: bool = False) -> int:
        return 0

    def present_all(self, items: list[tuple[str, str]], *, wait: bool = True) -> None:
        self.items += items
        self.calls.append(("present_all", wait))

    def wait_journal(self, names: list[str]) -> None:
        self.calls.append(("wait_journal", sorted(names)))

    def cleanup(self, name: str, value: str) -> None:
        self.items.append((name, value))


def doors(domain: str, value: str) -> dict[str, Callable[[Callable[[], Any]], int]]:
    """Each front door, called with ``domain`` and ``value`` as its caller would pass them."""
    certbot_env = {"CERTBOT_DOMAIN": domain, "CERTBOT_VALIDATION": value}
    return {
        "lego-present": lambda f: hooks.lego_exec("present", [fqdn(domain), value], f),
        "lego-cleanup": lambda f: hooks.lego_exec("cleanup", [fqdn(domain), value], f),
        "lego-raw": lambda f: hooks.lego_exec("present", ["--", domain, "tok", value + ".x"], f),
        "certbot-auth": lambda f: hooks.certbot("auth", certbot_env, f),
        "certbot-cleanup": lambda f: hooks.certbot("cleanup", certbot_env, f),
        "certbot-all-domains": lambda f: hooks.certbot(
            "auth",
            {
                "CERTBOT_DOMAIN": "example.test",
                "CERTBOT_VALIDATION": VALUE,
                "CERTBOT_ALL_DOMAINS": f"example.test,{domain}",
                "CERTBOT_REMAINING_CHALLENGES": "0",
            },
            f,
        ),
        "dehydrated": lambda f: hooks.dehydrated(["deploy_challenge", domain, "tok", value], f),
    }


DOORS = list(doors("x", "y"))


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("domain", REFUSED.values(), ids=REFUSED.keys())
def test_refused_name_exits_2_with_one_line(
    door: str, domain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert doors(domain, VALUE)[door](no_factory) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("ddnsd: ") and "is not a domain name: " in err
    assert "\x00" not in err and "\r" not in err and "\u2028" not in err


BAD_VALUES = {
    "newline": VALUE + "\n",
    "cr": VALUE[:10] + "\r" + VALUE[10:],
    "nul": VALUE + "\x00",
    "tab": "\t" + VALUE,
    "space": VALUE[:20] + " " + VALUE[20:],
    "u2028": VALUE + "\u2028",
    "non-ascii": VALUE[:-1] + "é",
    "quote": VALUE[:-1] + '"',
}


@pytest.mark.parametrize("door", [d for d in DOORS if d != "certbot-all-domains"])
@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_refused_value_exits_2_with_one_line(
    door: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert doors("example.test", value)[door](no_factory) == 2
    _out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1, err
    assert "refusing the TXT value" in err


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("domain", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_name_reaches_the_service_normalised(door: str, domain: str) -> None:
    service = Recorder()
    assert doors(domain, VALUE)[door](lambda: service) == 0
    names = {name for name, _ in service.items}
    assert challenge_name(domain) in names or door == "certbot-all-domains"
    assert all(name == name.lower() and not name.endswith(".") for name in names)


APEX = WILD = "_acme-challenge.example.test"  # a wildcard's challenge name is the apex's
CERTBOT_WAITS = [
    # (CERTBOT_REMAINING_CHALLENGES, CERTBOT_ALL_DOMAINS) -> what the hook asks of the service
    ("1", "example.test,*.example.test", [("present_all", False)]),
    (
        "0",
        "example.test,*.example.test,www.example.test",
        [
            ("present_all", False),
            ("wait_journal", [APEX, WILD, "_acme-challenge.www.example.test"]),
        ],
    ),
    ("0", "example.test", [("present_all", False), ("wait_journal", [APEX])]),
    ("", "", [("present_all", True)]),  # an older certbot: every hook waits for its own value
]


@pytest.mark.parametrize(("remaining", "all_domains", "calls"), CERTBOT_WAITS)
def test_certbots_last_auth_hook_waits_for_every_value_of_the_certificate(
    remaining: str, all_domains: str, calls: list[tuple[str, object]]
) -> None:
    """A hook with challenges still to come only adds its value; the last one waits for all
    of the certificate's names in the journal (not just its own value)."""
    service = Recorder()
    environ = {
        "CERTBOT_DOMAIN": "example.test",
        "CERTBOT_VALIDATION": "v" * 43,
        "CERTBOT_REMAINING_CHALLENGES": remaining,
        "CERTBOT_ALL_DOMAINS": all_domains,
    }
    assert hooks.certbot("auth", environ, lambda: service) == 0  # type: ignore[arg-type,return-value]
    assert service.calls == calls
