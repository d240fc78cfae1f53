"""Config values that must be refused with one problem naming the key, and ones that must not.

NaN and infinity in every duration (issue 11 item 4), a file that is not UTF-8 (5),
``jitter = 0``, a static address in the other family's list, ``http://`` sources and
a token lifetime in fortnights (7), control characters anywhere and names that are not
names (2).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w
from test_config import MINIMAL

from ddnsd.config.models import Settings
from ddnsd.config.read import load as load_config
from ddnsd.errors import ConfigError

BASE = MINIMAL  # one A record, a static source, key file k.pem


@pytest.fixture(autouse=True)
def key_file(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_text("not read by config.load\n")


def load(
    tmp_path: Path, extra: str = "", *, text: str = "", environ: dict[str, str] | None = None
) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text((text or BASE) + extra)
    return load_config(str(path), environ=environ or {})


def problems(
    tmp_path: Path, extra: str = "", *, text: str = "", environ: dict[str, str] | None = None
) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, extra, text=text, environ=environ)
    return info.value.problems


def with_value(section: str, key: str, toml_value: str) -> str:
    """BASE with ``[section] key = toml_value`` (a TOML literal: nan, inf, "5m", …)."""
    data = tomllib.loads(BASE)
    data.setdefault(section, {})[key] = tomllib.loads(f"v = {toml_value}")["v"]
    return tomli_w.dumps(data)


DURATION_KEYS = [
    ("transip", "timeout"),
    ("detect", "timeout"),
    ("schedule", "interval"),
    ("schedule", "verify"),
    ("schedule", "propagation_grace"),
    ("schedule", "jitter"),
    ("acme", "propagation_timeout"),
    ("acme", "poll_interval"),
    ("acme", "max_age"),
]
NOT_DURATIONS = {
    "nan": ("nan", "is not a duration; use a finite number of seconds"),
    "-nan": ("-nan", "is not a duration; use a finite number of seconds"),
    "inf": ("inf", "is not a duration; use a finite number of seconds"),
    "-inf": ("-inf", "is not a duration; use a finite number of seconds"),
    "1e400": ("1e400", "is not a duration; use a finite number of seconds"),
    "text-nan": ('"nan"', "is not a duration; use e.g."),
    "text-inf": ('"Infinity"', "is not a duration; use e.g."),
    "negative": ("-1", "must be"),
    "too-long": ('"400d"', "is too long; at most 365 d"),
    "bool": ("true", "expected a duration"),
}


@pytest.mark.parametrize(("section", "key"), DURATION_KEYS, ids=[k for _, k in DURATION_KEYS])
@pytest.mark.parametrize("case", NOT_DURATIONS, ids=NOT_DURATIONS.keys())
def test_every_duration_refuses_nan_infinity_and_the_like_naming_its_key(
    tmp_path: Path, section: str, key: str, case: str
) -> None:
    value, words = NOT_DURATIONS[case]
    found = problems(tmp_path, text=with_value(section, key, value))
    assert len(found) == 1, found
    assert found[0].startswith(f"{section}.{key}: ") and words in found[0], found


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e999"])
def test_durations_from_the_environment_are_refused_too(tmp_path: Path, value: str) -> None:
    found = problems(tmp_path, environ={"DDNSD_SCHEDULE__JITTER": value})
    assert len(found) == 1 and found[0].startswith("schedule.jitter: "), found


def test_each_environment_variable_that_is_not_json_is_named(tmp_path: Path) -> None:
    environ = {"DDNSD_DNS__NAMESERVERS": "127.0.0.1", "DDNSD_TRANSIP": "x", "DDNSD_AGREE": "2"}
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, environ=environ)
    assert str(exc.value) == "the DDNSD_* environment variables have 2 problems"
    assert [p.split(":")[0] for p in exc.value.problems] == [
        "DDNSD_DNS__NAMESERVERS is not JSON",
        "DDNSD_TRANSIP is not JSON",
    ]


@pytest.mark.parametrize("value", ['"/etc/elsewhere.toml"', "5"])
def test_source_is_no_key_of_the_file(tmp_path: Path, value: str) -> None:
    """Where the configuration came from is ddnsd's to say, not a key."""
    assert problems(tmp_path, text=f"source = {value}\n" + BASE) == ["source: unknown key (typo?)"]


def test_infinite_interval_blames_interval_not_verify(tmp_path: Path) -> None:
    assert problems(tmp_path, text=with_value("schedule", "interval", "inf")) == [
        "schedule.interval: inf is not a duration; use a finite number of seconds"
    ]


def test_jitter_zero_means_no_jitter(tmp_path: Path) -> None:
    assert load(tmp_path, "[schedule]\njitter = 0\n").schedule.jitter == 0.0
    assert problems(tmp_path, "[schedule]\ninterval = 0\n") == [
        "schedule.interval: a duration must be greater than zero"
    ]


def test_token_lifetime_in_fortnights_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, environ={"DDNSD_TRANSIP__TOKEN_LIFETIME": "3 fortnights"}) == [
        "transip.token_lifetime: '3 fortnights' is not a token lifetime; use a TransIP phrase "
        "like '1 hour' or '4 weeks', or a duration like '1h'"
    ]
    with_file = with_value("transip", "token_lifetime", '"3 fortnights"')
    assert problems(tmp_path, text=with_file)[0].startswith("transip.token_lifetime: ")


SOURCES = {
    "v6-static-in-ipv4": (
        'ipv4 = ["static:2a01:7c8::1"]',
        "detect.ipv4[0]: static:2a01:7c8::1 is an IPv6 address, not IPv4; move it to detect.ipv6",
    ),
    "v4-static-in-ipv6": (
        'ipv4 = ["static:203.0.113.5"]\nipv6 = ["static:2a01:7c8::1", "static:203.0.113.9"]',
        "detect.ipv6[1]: static:203.0.113.9 is an IPv4 address, not IPv6; move it to detect.ipv4",
    ),
    "plain-http": (
        'ipv4 = ["http://me:s3cret@ip.example/"]',
        "detect.ipv4[0]: http://me:***@ip.example/ is plain HTTP: anyone on the path can forge "
        "its answer and so choose the address your records get; use https://, or set [detect] "
        "allow_insecure_sources = true if you trust the network to it",
    ),
}


@pytest.mark.parametrize("case", SOURCES, ids=SOURCES.keys())
def test_sources_refused_naming_the_key(tmp_path: Path, case: str) -> None:
    lines, problem = SOURCES[case]
    assert problems(tmp_path, text=BASE.replace('ipv4 = ["static:203.0.113.5"]', lines)) == [
        problem
    ]


def test_plain_http_source_allowed_when_asked_for(tmp_path: Path) -> None:
    text = BASE.replace(
        'ipv4 = ["static:203.0.113.5"]',
        'ipv4 = ["http://127.0.0.1:8080/ip"]\nallow_insecure_sources = true',
    )
    assert str(load(tmp_path, text=text).detect.ipv4[0]) == "http://127.0.0.1:8080/ip"


def test_control_characters_are_refused_naming_the_key_never_the_value(tmp_path: Path) -> None:
    text = BASE.replace('login = "demo"', 'login = "de\\u001b[2Jmo"').replace(
        'name = "home"', 'name = "ho\\nme"'
    )
    text += '[dyndns]\nusername = "r"\npassword = "se\\u0007cret"\nhostnames = ["a.b\\r"]\n'
    assert problems(tmp_path, text=text, environ={"DDNSD_TRANSIP__API_URL": "x\ty"}) == [
        "transip.login: contains a control character (U+001B); remove it",
        "transip.api_url: contains a control character (U+0009); remove it",
        "records[0].name: contains a control character (U+000A); remove it",
        "dyndns.hostnames[0]: contains a control character (U+000D); remove it",
    ]


NAMES = {
    "zone-unicode": (
        '[acme]\nzones = ["bücher.test"]',
        "acme.zones[0]: 'bücher.test' is not a domain name: it contains the non-ASCII "
        "character 'ü' (U+00FC); write internationalized names in their IDNA form (xn--…): "
        "'xn--bcher-kva.test'",
    ),
    "hostname-double-dot": (
        '[dyndns]\nusername = "r"\npassword = "p"\nhostnames = ["home..example.test"]',
        "dyndns.hostnames[0]: 'home..example.test' is not a domain name: it has an empty "
        "label (a dot at the start, at the end or two in a row)",
    ),
    "account-fqdn-space": (
        '[[acme.accounts]]\nusername = "u"\npassword = "p"\nfqdn = "_acme-challenge.a b.test"',
        "acme.accounts[0].fqdn: '_acme-challenge.a b.test' is not a domain name: it contains "
        "a space (U+0020); names hold only letters, digits, '-', '_' and dots",
    ),
}


@pytest.mark.parametrize("case", NAMES, ids=NAMES.keys())
def test_names_in_the_config_are_names(tmp_path: Path, case: str) -> None:
    extra, problem = NAMES[case]
    assert problems(tmp_path, "\n" + extra + "\n") == [problem]


def test_a_config_file_that_is_not_utf8_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[transip]\nlogin = "d\xe9mo"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path), environ={})
    assert str(info.value) == (
        f"config file {path} is not UTF-8 text (byte 0xe9 at offset 20); save it as UTF-8"
    )
    assert info.value.problems == []


def test_found_by_the_config_fuzz(tmp_path: Path) -> None:
    """A file name too long to look up, and an account with no username or password."""
    long_name = "x" * 5000
    found = problems(tmp_path, text=BASE.replace('"k.pem"', f'"{long_name}"'))
    assert found == [
        f"transip.private_key_file: {tmp_path / long_name} does not exist or is not a file"
    ]
    account = (
        '\n[[acme.accounts]]\nusername = ""\npassword = ""\nfqdn = "_acme-challenge.example.test"\n'
    )
    assert problems(tmp_path, account) == [
        "acme.accounts[0].username: is required",
        "acme.accounts[0].password: is empty",
    ]
