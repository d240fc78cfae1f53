"""ddnsd.acme.hooks without a service: handlers that need none, and usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ddnsd.acme import hooks
from ddnsd.acme.service import ChallengeService


def no_factory() -> ChallengeService:
    raise AssertionError("the factory must not be called")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["startup_hook"], id="startup_hook"),
        pytest.param(["exit_hook"], id="exit_hook"),
        pytest.param(
            ["deploy_cert", "example.test", "k.pem", "c.pem", "f.pem", "ch.pem", "1"],
            id="deploy_cert",
        ),
        pytest.param(
            [
                "this_hookscript_is_broken__dehydrated_is_working_fine__please_ignore_unknown_hooks_in_your_script"
            ],
            id="probe",
        ),
        pytest.param(["invalid_challenge", "example.test", "{}"], id="invalid_challenge"),
        pytest.param(["some_future_handler", "x"], id="unknown-handler"),
    ],
)
def test_dehydrated_other_handlers_exit_0_silently(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert hooks.dehydrated(args, no_factory) == 0
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("call", "line"),
    [
        pytest.param(
            lambda: hooks.dehydrated([], no_factory),
            "ddnsd: " + hooks.DEHYDRATED_USAGE,
            id="dehydrated-no-handler",
        ),
        pytest.param(
            lambda: hooks.dehydrated(["deploy_challenge", "example.test", "tok"], no_factory),
            "ddnsd: " + hooks.DEHYDRATED_USAGE,
            id="dehydrated-short-triple",
        ),
        pytest.param(
            lambda: hooks.lego_exec("present", ["only-one"], no_factory),
            "ddnsd: " + hooks.LEGO_USAGE,
            id="lego-one-arg",
        ),
        pytest.param(
            lambda: hooks.lego_exec("present", ["--", "a", "b"], no_factory),
            "ddnsd: " + hooks.LEGO_USAGE,
            id="lego-raw-two-args",
        ),
        pytest.param(
            lambda: hooks.certbot("auth", {"CERTBOT_VALIDATION": "v"}, no_factory),
            "ddnsd: CERTBOT_DOMAIN is not set; run this as certbot's --manual-auth-hook / "
            "--manual-cleanup-hook with --preferred-challenges dns",
            id="certbot-no-domain",
        ),
        pytest.param(
            lambda: hooks.certbot("cleanup", {"CERTBOT_DOMAIN": "example.test"}, no_factory),
            "ddnsd: CERTBOT_VALIDATION is not set; run this as certbot's --manual-auth-hook / "
            "--manual-cleanup-hook with --preferred-challenges dns",
            id="certbot-no-validation",
        ),
        pytest.param(
            lambda: hooks.dispatch("hook", ["nope"], no_factory, {}),
            "ddnsd: unknown hook 'nope'; use certbot-auth, certbot-cleanup or dehydrated",
            id="dispatch-unknown-hook",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    call: object, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(call)
    assert call() == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == line + "\n"


def test_bad_domain_exits_2_without_building_the_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert hooks.dehydrated(["deploy_challenge", "exa mple.test", "tok", "val"], no_factory) == 2
    assert capsys.readouterr().err == (
        "ddnsd: deploy_challenge: 'exa mple.test' is not a domain name: it contains a space "
        "(U+0020); names hold only letters, digits, '-', '_' and dots\n"
    )


def test_hooks_import_is_light() -> None:
    """The hook path imports neither the service nor requests/dnspython/pydantic."""
    code = (
        "import sys, ddnsd.acme.hooks; "
        "heavy = [m for m in ('requests', 'dns', 'pydantic', 'apscheduler', "
        "'prometheus_client', 'ddnsd.acme.service') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
