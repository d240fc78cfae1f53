"""[notify] and [http.status_auth]: read, checked, secrets kept out of every printout."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ddnsd import wiring
from ddnsd.config.credentials import notify_targets, status_auth
from ddnsd.config.models import Settings
from ddnsd.config.read import load as load_config
from ddnsd.config.render import redacted, to_toml
from ddnsd.errors import ConfigError

BASE = """
[transip]
login = "demo"
private_key_file = "k.pem"
"""
SECRETS = ("TOKEN123456", "hunter2pw", "0f1e2d3c-uuid", "kuma-push-tok", "st4tus-pw")
NOTIFY = """
[notify]
urls = ["tgram://TOKEN123456/987", "json://user:hunter2pw@127.0.0.1:9/hook"]
heartbeat_url = "https://hc-ping.com/0f1e2d3c-uuid"
heartbeat_fail_url = "https://kuma.example.test/api/push/kuma-push-tok?status=down"
events = ["address", "written"]
failure_after = 5

[http.status_auth]
username = "me"
password = "st4tus-pw"
"""


@pytest.fixture
def cfgdir(tmp_path: Path) -> Path:
    (tmp_path / "k.pem").write_text("never read by config\n")
    return tmp_path


def load(d: Path, text: str) -> Settings:
    (d / "config.toml").write_text(BASE + text)
    return load_config(str(d / "config.toml"), environ={})


def test_defaults_send_nothing(cfgdir: Path) -> None:
    targets = notify_targets(load(cfgdir, ""))
    assert not targets.active
    assert targets.events == {"address", "failure", "recovery", "acme_failure"}
    assert targets.failure_after == 3


def test_printed_configuration_shows_schemes_only(cfgdir: Path) -> None:
    settings = load(cfgdir, NOTIFY)
    printed = to_toml(redacted(settings))
    for secret in SECRETS:
        assert secret not in printed
    notify = tomllib.loads(printed)["notify"]
    assert notify["urls"] == ["tgram://…", "json://…"]
    assert (notify["heartbeat_url"], notify["heartbeat_fail_url"]) == ("https://…", "https://…")
    assert tomllib.loads(printed)["http"]["status_auth"]["password"] == "********"
    shown = repr(notify_targets(settings)) + repr(status_auth(settings))
    assert not [s for s in SECRETS if s in shown]


def test_targets_and_status_auth_are_read(cfgdir: Path) -> None:
    (cfgdir / "notify.urls").write_text(
        "# mine\nntfys://ntfy.sh/topic\n\n  mailtos://u:p@x.test  \n"
    )
    (cfgdir / "status.pw").write_text("from-file\n")
    text = NOTIFY.replace('password = "st4tus-pw"', 'password_file = "status.pw"')
    settings = load(cfgdir, text.replace("[notify]", '[notify]\nurls_file = "notify.urls"'))
    targets = notify_targets(settings)
    assert targets.urls[2:] == ("ntfys://ntfy.sh/topic", "mailtos://u:p@x.test")
    assert (
        targets.heartbeat_fail_url == "https://kuma.example.test/api/push/kuma-push-tok?status=down"
    )
    assert (targets.events, targets.failure_after) == ({"address", "written"}, 5)
    auth = status_auth(settings)
    assert auth is not None and (auth.username, auth.password) == ("me", "from-file")


TOPICS = "'address', 'written', 'failure', 'recovery', 'conflict', 'acme_failure' or 'deferred'"
MISSING = "does not exist or is not a file"
AUTH = '[http.status_auth]\nusername = "me"'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[notify]\nurls = ["hunter2pw"]', "notify.urls: entry 0 is not a URL (scheme://…)"),
        (
            '[notify]\nheartbeat_url = "ftp://hunter2pw"',
            "notify.heartbeat_url: is not an http(s) URL",
        ),
        ("[notify]\nheartbeat_start = true", "notify: heartbeat_start needs heartbeat_url"),
        (
            '[http.status_auth]\nusername = ""\npassword = "x"',
            "http.status_auth.username: is required",
        ),
        ('[notify]\nevents = ["everything"]', f"notify.events[0]: Input should be {TOPICS}"),
        (
            "[notify]\nfailure_after = 0",
            "notify.failure_after: Input should be greater than or equal to 1",
        ),
        (AUTH, "http.status_auth.password_file: is required"),
        (
            AUTH + '\npassword_file = "gone"',
            f"http.status_auth.password_file: {{d}}/gone {MISSING}",
        ),
    ],
)
def test_problems_name_the_key_never_the_secret(cfgdir: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(cfgdir, text)
    assert exc.value.problems == [problem.format(d=cfgdir)]
    assert "hunter2pw" not in str(exc.value.problems)


def test_a_missing_urls_file_is_refused_at_start_up(cfgdir: Path) -> None:
    settings = load(cfgdir, '[notify]\nurls_file = "nope.urls"')
    with pytest.raises(ConfigError, match=r"^notify.urls_file: cannot read .*/nope.urls: No such"):
        wiring.make_event_log(settings)


def test_a_urls_file_that_is_not_text_is_one_line_at_check_config(cfgdir: Path) -> None:
    (cfgdir / "notify.urls").write_bytes(b"\xff\xfehunter2pw\x00\x9c")
    cfg = cfgdir / "config.toml"
    cfg.write_text(BASE + '[notify]\nurls_file = "notify.urls"\n')
    done = subprocess.run(
        [sys.executable, "-m", "ddnsd", "-c", str(cfg), "check-config"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert (
        f"  - notify.urls_file: {cfgdir}/notify.urls is not UTF-8 text; save it as UTF-8"
        in done.stderr.splitlines()
    )
    assert "Traceback" not in done.stderr and "hunter2pw" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("url", "shown"), [("nosuch://hunter2pw/x", "nosuch://…"), ("foo://hunter2pw@x", "foo://…")]
)
def test_a_url_apprise_does_not_know_is_refused_by_number(
    cfgdir: Path, url: str, shown: str
) -> None:
    settings = load(cfgdir, f'[notify]\nurls = ["json://127.0.0.1:9/", "{url}"]')
    with pytest.raises(ConfigError) as exc:
        wiring.make_event_log(settings)
    assert str(exc.value).startswith(f"notify.urls[1] ({shown}) is not a URL Apprise knows")
    assert "hunter2pw" not in str(exc.value)


def test_check_config_logs_no_line_of_apprise_quoting_a_url(cfgdir: Path) -> None:
    """Apprise logs "Unparseable URL foo://SECRET3@x" on its own; the user sees only the
    problem line, even when debugging. (A subprocess: pytest's caplog listens on every
    logger, ddnsd's log on the root only.)"""
    cfg = cfgdir / "config.toml"
    cfg.write_text(BASE + '[notify]\nurls = ["foo://SECRET3@x"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "ddnsd", "--log-level", "DEBUG", "-c", str(cfg), "check-config"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "SECRET3" not in done.stdout + done.stderr
    assert (
        "  - notify.urls[0] (foo://…) is not a URL Apprise knows; "
        "see https://github.com/caronc/apprise/wiki for the forms"
    ) in done.stderr.splitlines()


def test_apprise_is_loaded_only_for_urls(cfgdir: Path) -> None:
    """Heartbeats alone, history alone, or the hook's event log: no Apprise import."""
    (cfgdir / "config.toml").write_text(
        BASE + '[notify]\nheartbeat_url = "https://hc.example.test/x"\n[state]\ndir = "state"\n'
    )
    code = (
        "import sys\n"
        "from ddnsd import wiring\n"
        "from ddnsd.config.read import load\n"
        f"s = load({str(cfgdir / 'config.toml')!r}, environ={{}})\n"
        "wiring.make_event_log(s)\n"
        "wiring.hook_events(s)\n"
        "assert 'apprise' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
