"""Configuration: file + env overlay, secret files, credentials, every problem reported."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hostile_names import ACCEPTED, REFUSED, fqdn

from ddnsd import names
from ddnsd.config.credentials import web_auth
from ddnsd.config.fields import parse_duration
from ddnsd.config.places import config_path
from ddnsd.config.read import load
from ddnsd.config.render import redacted, to_toml
from ddnsd.config.runtime import AcmeDnsAccount, DyndnsEndpoint, HttpreqAuth
from ddnsd.config.schema import schema_markdown
from ddnsd.detect.spec import SOURCE_HELP, SourceSpec, parse_source
from ddnsd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
[transip]
login = "demo"
private_key_file = "k.pem"
api_url = "http://127.0.0.1:8780/v6"

[[records]]
domain = "example.test"
name = "home"
type = "A"

[detect]
ipv4 = ["static:203.0.113.5"]
agree = 1
"""


@pytest.fixture
def cfgdir(tmp_path: Path) -> Path:
    (tmp_path / "k.pem").write_text("not a real key, never read by config\n")
    (tmp_path / "k.pem").chmod(0o600)
    return tmp_path


def write(d: Path, text: str) -> str:
    p = d / "config.toml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("90", 90.0),
        (90, 90.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        (" 2.5m ", 150.0),
    ],
    ids=["1s", "bare-string", "int", "5m", "1h", "1d", "fraction-and-spaces"],
)
def test_duration_parses(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 parsecs", "-1", "0", "1w", True, None, "m"])
def test_duration_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_minimal_file_loads_with_defaults(cfgdir: Path) -> None:
    s = load(write(cfgdir, MINIMAL), environ={})
    assert s.transip.login == "demo"
    assert s.transip.private_key_file == cfgdir / "k.pem"  # relative to the config file
    assert s.records[0].ttl == 300
    assert s.schedule.interval == 300.0
    assert s.http.listen == "127.0.0.1:9333"
    assert s.state.dir == Path("/var/lib/ddnsd")


def test_env_overrides_file(cfgdir: Path) -> None:
    env = {
        "DDNSD_HTTP__LISTEN": "0.0.0.0:9999",
        "DDNSD_SCHEDULE__INTERVAL": "90",
        "DDNSD_TRANSIP__LOGIN": "other",
        "UNRELATED": "x",
    }
    s = load(write(cfgdir, MINIMAL), environ=env)
    assert (s.http.listen, s.schedule.interval, s.transip.login) == ("0.0.0.0:9999", 90.0, "other")


def test_only_the_given_environment_counts(cfgdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load(environ=…) reads that mapping only, and only its DDNSD_* variables: neither
    the process's DDNSD_* nor a variable that happens to share a section's name
    (RECORDS, STATE in someone's shell) reaches the settings."""
    monkeypatch.setenv("DDNSD_HTTP__LISTEN", "0.0.0.0:9999")
    monkeypatch.setenv("DDNSD_TRANSIP__LOGIN", "leaked")
    monkeypatch.setenv("RECORDS", "x")
    monkeypatch.setenv("STATE", '{"dir": "/elsewhere"}')
    s = load(write(cfgdir, MINIMAL), environ={"STATE": '{"dir": "/elsewhere"}'})
    assert (s.http.listen, s.transip.login) == ("127.0.0.1:9333", "demo")
    assert s.state.dir == Path("/var/lib/ddnsd") and len(s.records) == 1


def test_config_path_order() -> None:
    assert config_path("a.toml", {"DDNSD_CONFIG": "b.toml"}) == Path("a.toml")
    assert config_path(None, {"DDNSD_CONFIG": "b.toml"}) == Path("b.toml")
    assert config_path(None, {}) == Path("/etc/ddnsd/config.toml")


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(str(tmp_path / "nope.toml"), environ={})
    assert str(exc.value) == (
        f"config file {tmp_path / 'nope.toml'} does not exist; pass -c FILE or set "
        "DDNSD_CONFIG (see config.example.toml)"
    )


def test_toml_syntax_error_names_the_file(cfgdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"TOML syntax error: .*line 1"):
        load(write(cfgdir, "[transip\n"), environ={})


def test_every_problem_is_reported_at_once(cfgdir: Path) -> None:
    text = """
[transip]
logn = "x"
[[records]]
domain = "exa mple"
name = "home"
type = "B"
ttl = 5
[schedule]
interval = "5 parsecs"
"""
    with pytest.raises(ConfigError) as exc:
        load(write(cfgdir, text), environ={})
    assert exc.value.problems == [
        "transip.logn: unknown key (typo?)",
        "records[0].domain: 'exa mple' is not a domain name: it contains a space (U+0020); "
        "names hold only letters, digits, '-', '_' and dots",
        "records[0].type: Input should be 'A' or 'AAAA'",
        "records[0].ttl: Input should be greater than or equal to 60",
        "schedule.interval: '5 parsecs' is not a duration; use e.g. '90', '30s', '5m', '1h' "
        "or '1d'",
    ]


@pytest.mark.parametrize(
    ("replace", "problem"),
    [
        (
            ('private_key_file = "k.pem"', 'private_key_file = "missing.pem"'),
            "transip.private_key_file: {d}/missing.pem does not exist or is not a file",
        ),
        (
            ('private_key_file = "k.pem"', ""),
            "transip.private_key_file: is required (or transip.access_token_file, or a systemd "
            "credential named transip.key)",
        ),
        (
            ("agree = 1", "agree = 3"),
            "detect.agree: 3 sources must agree but detect.ipv4 lists only 1",
        ),
        (
            ('ipv4 = ["static:203.0.113.5"]', "ipv4 = []"),
            "detect.ipv4: no sources, but a record of type A needs one",
        ),
        (
            ('type = "A"', 'type = "AAAA"\nipv6_host = "::1"'),
            "detect.ipv6: no sources, but a record of type AAAA needs one",
        ),
    ],
    ids=["key-missing", "no-key", "agree-too-high", "no-v4-sources", "no-v6-sources"],
)
def test_cross_field_problems(cfgdir: Path, replace: tuple[str, str], problem: str) -> None:
    text = MINIMAL.replace(*replace)
    if "AAAA" in replace[1]:
        text = text.replace("[detect]", "[detect]\nipv6 = []")
    with pytest.raises(ConfigError) as exc:
        load(write(cfgdir, text), environ={})
    assert problem.format(d=cfgdir) in exc.value.problems


def test_bad_nameserver_is_a_config_problem(cfgdir: Path) -> None:
    text = MINIMAL + '\n[dns]\nnameservers = ["127.0.0.1:8053", "127.0.0.1:abc"]\n'
    with pytest.raises(ConfigError) as exc:
        load(write(cfgdir, text), environ={})
    assert [p for p in exc.value.problems if p.startswith("dns.")] == [
        "dns.nameservers[1]: DNS server '127.0.0.1:abc' has an invalid port 'abc'"
    ]


def test_duplicate_records_refused(cfgdir: Path) -> None:
    text = MINIMAL + '\n[[records]]\ndomain = "example.test"\nname = "HOME"\ntype = "A"\n'
    with pytest.raises(ConfigError) as exc:
        load(write(cfgdir, text), environ={})
    assert "records[1]: home A in example.test is listed twice" in exc.value.problems


def test_systemd_credential_supplies_the_key(cfgdir: Path, tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "transip.key").write_text("x")
    text = MINIMAL.replace('private_key_file = "k.pem"', "")
    s = load(
        write(cfgdir, text),
        environ={"CREDENTIALS_DIRECTORY": str(creds), "STATE_DIRECTORY": "/var/lib/ddnsd-x"},
    )
    assert s.transip.private_key_file == creds / "transip.key"
    assert s.state.dir == Path("/var/lib/ddnsd-x")


def test_relative_secret_file_prefers_credentials_dir(cfgdir: Path, tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "k.pem").write_text("x")
    s = load(write(cfgdir, MINIMAL), environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert s.transip.private_key_file == creds / "k.pem"


def test_redacted_dump_hides_inline_secrets(cfgdir: Path) -> None:
    text = MINIMAL + (
        '\n[acme.httpreq]\nusername = "lego"\npassword = "hunter2-secret"\n'
        '\n[[acme.accounts]]\nusername = "cm"\npassword = "acme-dns-secret"\n'
        'fqdn = "_acme-challenge.example.test"\n'
    )
    s = load(write(cfgdir, text), environ={})
    dumped = to_toml(redacted(s))
    assert "hunter2-secret" not in dumped and "acme-dns-secret" not in dumped
    assert dumped.count('password = "********"') == 2
    assert "hunter2-secret" not in repr(s)


def test_docs_configuration_md_is_current() -> None:
    """docs/configuration.md is generated (`make docs`); it must match the code."""
    current = (ROOT / "docs" / "configuration.md").read_text()
    assert current == schema_markdown(), "docs/configuration.md is stale: run `make docs`"


def test_example_config_keys_all_exist(tmp_path: Path) -> None:
    """config.example.toml parses against the models (its key file aside)."""
    text = (ROOT / "config.example.toml").read_text()
    (tmp_path / "transip.key").write_text("x")
    s = load(write(tmp_path, text), environ={})
    assert s.records[0].name == "home"


# --------------------------------------------------------------------------- printed and read back

HOSTILE = [
    'dq"',
    "sq'",
    "back\\slash\\",
    "tab and  spaces ",
    "ünïcødé ✓ 名前",
    '"""',
    "'''",
    "# not a comment",
    "[not.a.table]",
    "= x",
    "x" * 5000,
]
#: Names: every form a name may take (control characters are refused, see below).
NAMES = ["example.test", "xn--bcher-kva.example", "_acme-challenge.a-b.test", "x" * 63 + ".test"]


def hostile_config(d: Path) -> dict[str, Any]:
    """A config whose free-text values are as awkward for TOML as they can be."""
    for i in range(3):
        (d / f"pw-{i}-\"'\\ü .txt").write_text("secret\n")
    return {
        "transip": {
            "login": "".join(HOSTILE),
            "private_key_file": "k.pem",
            "api_url": 'http://127.0.0.1:1/v6?"\\ü',
            "token_lifetime": 5400,
        },
        "records": [{"domain": "example.test", "name": "home", "type": "A"}],
        "detect": {
            "ipv4": [f"file:/run/{h}" for h in HOSTILE] + ["cmd:/bin/echo \" ü\" '\\'"],
            "agree": 1,
        },
        "dns": {"nameservers": ["nsü\"'\\.example:53"]},
        "state": {"dir": 'state-"\\ü'},
        "acme": {
            "zones": NAMES,
            "httpreq": {
                "base": '/acme"\\',
                "username": "lego\"'\\",
                "password_file": "pw-0-\"'\\ü .txt",
            },
            "accounts": [
                {
                    "username": h,
                    "password_file": "pw-1-\"'\\ü .txt",
                    "fqdn": f"_acme-challenge.{n}",
                }
                for h, n in zip(HOSTILE, NAMES * 3, strict=False)
            ],
        },
        "dyndns": {
            "username": 'router"\\ü',
            "password_file": "pw-2-\"'\\ü .txt",
            "hostnames": NAMES,
        },
    }


def test_printed_configuration_loads_back_to_the_same_settings(cfgdir: Path) -> None:
    first = load(write_toml(cfgdir, hostile_config(cfgdir)), environ={})
    printed = to_toml(redacted(first))
    again_dir = cfgdir / "again"
    again_dir.mkdir()
    (again_dir / "config.toml").write_text(printed)
    second = load(str(again_dir / "config.toml"), environ={})
    assert second.model_dump(mode="json") == first.model_dump(mode="json")
    assert second == first.with_source(second.source)
    assert to_toml(redacted(second)) == printed
    assert tomllib.loads(printed)["transip"]["login"] == "".join(HOSTILE)
    assert str(first.detect.ipv4[0]) == f"file:/run/{HOSTILE[0]}"


def test_printed_inline_password_is_redacted_and_loads(cfgdir: Path) -> None:
    text = MINIMAL + '\n[dyndns]\nusername = "r"\npassword = "pa\\"ss\\u0007"\n'
    printed = to_toml(redacted(load(write(cfgdir, text), environ={})))
    assert tomllib.loads(printed)["dyndns"]["password"] == "********"
    assert 'pa"ss' not in printed


def write_toml(d: Path, data: dict[str, Any]) -> str:
    p = d / "config.toml"
    p.write_text(tomli_w.dumps(data))
    return str(p)


# --------------------------------------------------------------------------- token lifetime

LIFETIMES = [
    ("1 hour", "1 hour"),
    ("30 minutes", "30 minutes"),
    ("4 weeks", "4 weeks"),
    ("1 month", "1 month"),
    ("3600 seconds", "3600 seconds"),
    ("1h", "3600 seconds"),
    ("90m", "5400 seconds"),
    (3600, "3600 seconds"),
]


@pytest.mark.parametrize(("value", "phrase"), LIFETIMES, ids=[repr(v) for v, _ in LIFETIMES])
def test_token_lifetime_is_a_phrase_or_a_duration(cfgdir: Path, value: object, phrase: str) -> None:
    data = tomllib.loads(MINIMAL)
    data["transip"]["token_lifetime"] = value
    s = load(write_toml(cfgdir, data), environ={})
    assert s.transip.token_lifetime == phrase  # what the client sends as expiration_time


def test_token_lifetime_default_and_environment(cfgdir: Path) -> None:
    assert load(write(cfgdir, MINIMAL), environ={}).transip.token_lifetime == "1 hour"
    env = {"DDNSD_TRANSIP__TOKEN_LIFETIME": "2h"}
    s = load(write(cfgdir, MINIMAL), environ=env)
    assert s.transip.token_lifetime == "7200 seconds"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3 fortnights", "'3 fortnights' is not a token lifetime; use a TransIP phrase"),
        ("2 months", "a token lifetime must be between 1 min and one month"),
        ("10s", "a token lifetime must be between 1 min and one month"),
        ("nan", "is not a token lifetime"),
    ],
)
def test_wrong_token_lifetime_is_a_config_problem(cfgdir: Path, value: str, message: str) -> None:
    text = MINIMAL.replace('login = "demo"', f'login = "demo"\ntoken_lifetime = "{value}"')
    with pytest.raises(ConfigError) as exc:
        load(write(cfgdir, text), environ={})
    [problem] = exc.value.problems
    assert problem.startswith("transip.token_lifetime: ") and message in problem


def test_acme_reserve_and_window_defaults_and_environment(cfgdir: Path) -> None:
    s = load(write(cfgdir, MINIMAL), environ={})
    assert (s.transip.acme_reserve, s.transip.rate_limit_window) == (0.1, 900.0)
    env = {"DDNSD_TRANSIP__ACME_RESERVE": "0.25", "DDNSD_TRANSIP__RATE_LIMIT_WINDOW": "10s"}
    s = load(write(cfgdir, MINIMAL), environ=env)
    assert (s.transip.acme_reserve, s.transip.rate_limit_window) == (0.25, 10.0)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("acme_reserve = 0.6", "transip.acme_reserve: Input should be less than or equal to 0.5"),
        ("acme_reserve = -0.1", "transip.acme_reserve: Input should be greater than or equal to 0"),
        ('acme_reserve = "lots"', "transip.acme_reserve: Input should be a valid number"),
        ('rate_limit_window = "0s"', "transip.rate_limit_window: a duration must be greater"),
        ('rate_limit_window = "2d"', "transip.rate_limit_window: must be more than 0 s"),
    ],
    ids=["reserve-over-half", "reserve-negative", "reserve-not-a-number", "window-0", "window-2d"],
)
def test_acme_reserve_and_window_are_checked_at_load(cfgdir: Path, line: str, problem: str) -> None:
    text = MINIMAL.replace('login = "demo"', f'login = "demo"\n{line}')
    with pytest.raises(ConfigError) as exc:
        load(write(cfgdir, text), environ={})
    [got] = exc.value.problems
    assert got.startswith(problem)


# --------------------------------------------------------------------------- address sources


def test_sources_are_parsed_once_into_specs(cfgdir: Path) -> None:
    text = MINIMAL.replace(
        'ipv4 = ["static:203.0.113.5"]', 'ipv4 = ["static:203.0.113.5", " IFACE:eth0 ", "push"]'
    )
    text += '\n[dyndns]\nusername = "r"\npassword = "p"\n'
    s = load(write(cfgdir, text), environ={})
    assert [(x.kind, x.arg) for x in s.detect.ipv4] == [
        ("static", "203.0.113.5"),
        ("iface", "eth0"),
        ("push", ""),
    ]
    assert [str(x) for x in s.detect.ipv4] == ["static:203.0.113.5", " IFACE:eth0 ", "push"]
    assert s.detect.ipv6 == [parse_source("https://api6.ipify.org"), parse_source("dns:google")]
    assert s.model_dump()["detect"]["ipv4"][1] == " IFACE:eth0 "


def test_sources_from_the_environment(cfgdir: Path) -> None:
    env = {"DDNSD_DETECT__IPV4": '["file:/run/ip", "static:203.0.113.9"]'}
    s = load(write(cfgdir, MINIMAL), environ=env)
    assert s.detect.ipv4 == [SourceSpec("file", "/run/ip"), SourceSpec("static", "203.0.113.9")]


def test_bad_sources_name_their_key(cfgdir: Path) -> None:
    text = MINIMAL.replace(
        'ipv4 = ["static:203.0.113.5"]', 'ipv4 = ["static:203.0.113.5", "ipify", 5]'
    )
    with pytest.raises(ConfigError) as exc:
        load(write(cfgdir, text), environ={})
    assert exc.value.problems == [
        f"detect.ipv4[1]: unknown address source 'ipify'; {SOURCE_HELP}",
        "detect.ipv4[2]: Input should be a valid string",
    ]


def test_push_source_needs_dyndns(cfgdir: Path) -> None:
    text = MINIMAL.replace('ipv4 = ["static:203.0.113.5"]', 'ipv4 = ["Push"]')
    with pytest.raises(ConfigError) as exc:
        load(write(cfgdir, text), environ={})
    assert exc.value.problems == [
        "dyndns: the 'push' source needs a [dyndns] section with a username"
    ]


# --------------------------------------------------------------------------- web credentials


def test_web_auth_reads_secret_files_and_inline_passwords(cfgdir: Path) -> None:
    (cfgdir / "httpreq.pw").write_text("\ufeff  first line  \nsecond line\n", encoding="utf-8")
    text = MINIMAL + (
        '\n[acme.httpreq]\nbase = "/acme/"\nusername = "lego"\npassword_file = "httpreq.pw"\n'
        '\n[[acme.accounts]]\nusername = "cm"\npassword = "inline-key"\n'
        'fqdn = "_acme-challenge.Example.test."\n'
    )
    auth = web_auth(load(write(cfgdir, text), environ={}))
    assert auth.httpreq == HttpreqAuth("/acme", "lego", "first line")
    assert auth.acmedns == (AcmeDnsAccount("cm", "inline-key", "_acme-challenge.example.test"),)
    assert auth.dyndns is None


def test_web_auth_dyndns_hostnames_default_to_the_records(cfgdir: Path) -> None:
    text = MINIMAL + (
        '\n[[records]]\ndomain = "example.test"\nname = "@"\ntype = "A"\n'
        '\n[dyndns]\nusername = "router"\npassword = "pw"\n'
    )
    auth = web_auth(load(write(cfgdir, text), environ={}))
    assert auth.dyndns == DyndnsEndpoint(
        "router", "pw", frozenset({"home.example.test", "example.test"})
    )
    named = text + 'hostnames = ["Router.Example.test"]\n'
    auth = web_auth(load(write(cfgdir, named), environ={}))
    assert auth.dyndns is not None and auth.dyndns.hostnames == {"router.example.test"}
    anonymous = text.replace('username = "router"\n', "")
    assert web_auth(load(write(cfgdir, anonymous), environ={})).dyndns is None


def test_web_auth_unreadable_secret_is_a_config_error(cfgdir: Path) -> None:
    (cfgdir / "empty.pw").write_text("")
    text = MINIMAL + '\n[dyndns]\nusername = "router"\npassword_file = "empty.pw"\n'
    with pytest.raises(ConfigError, match=r"the secret file .*empty\.pw is empty"):
        web_auth(load(write(cfgdir, text), environ={}))


# --------------------------------------------------------------------------- the package


# --------------------------------------------------------------------------- names


def name_doors(name: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each configuration key that takes a name → (its problem's key, a config with ``name``
    there)."""
    base = tomllib.loads(MINIMAL)

    def with_(key: str, **sections: Any) -> tuple[str, dict[str, Any]]:
        return key, {**base, **sections}

    router = {"username": "r", "password": "p"}
    return {
        "records": with_(
            "records[0].name", records=[{"domain": "example.test", "name": name, "type": "A"}]
        ),
        "acme-zones": with_("acme.zones[0]", acme={"zones": [name]}),
        "acme-dns-fqdn": with_(
            "acme.accounts[0].fqdn",
            acme={"accounts": [{"username": "u", "password": "p", "fqdn": name}]},
        ),
        "dyndns": with_("dyndns.hostnames[0]", dyndns={**router, "hostnames": [name]}),
        "dns-source": with_(
            "detect.ipv4[0]", detect={"ipv4": [f"dns:{name}@127.0.0.1:53"], "agree": 1}
        ),
    }


NAME_DOORS = list(name_doors("x"))


@pytest.mark.parametrize("door", NAME_DOORS)
@pytest.mark.parametrize("name", REFUSED.values(), ids=REFUSED.keys())
def test_every_config_key_taking_a_name_refuses_it_as_names_does(
    cfgdir: Path, door: str, name: str
) -> None:
    """The one check: each key refuses a hostile name with names.domain_name's sentence (or,
    for a control character, the whole-file check's), and says which key."""
    key, data = name_doors(fqdn(name))[door]
    with pytest.raises(ConfigError) as exc:
        load(write_toml(cfgdir, data), environ={})
    [problem] = exc.value.problems
    assert problem.startswith(key + ": "), problem
    if names.unsafe_character(name, spaces=False) is not None:
        assert problem.endswith("; remove it"), problem
        return
    with pytest.raises(ValueError) as why:
        names.domain_name(fqdn(name))
    assert problem.endswith(str(why.value)), problem


@pytest.mark.parametrize("door", NAME_DOORS)
@pytest.mark.parametrize("name", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_every_config_key_taking_a_name_accepts_it(cfgdir: Path, door: str, name: str) -> None:
    _key, data = name_doors(fqdn(name))[door]
    load(write_toml(cfgdir, data), environ={})


def test_a_dns_source_with_a_raw_unicode_name_is_told_its_idna_2008_form(cfgdir: Path) -> None:
    """Python's IDNA 2003 codec would have taken 'faß' as 'fass', another domain."""
    data = tomllib.loads(MINIMAL)
    data["detect"]["ipv4"] = ["dns:myip.faß.example@127.0.0.1"]
    with pytest.raises(ConfigError) as exc:
        load(write_toml(cfgdir, data), environ={})
    assert exc.value.problems == [
        "detect.ipv4[0]: DNS source 'dns:myip.faß.example@127.0.0.1' has no valid name before "
        "'@': 'myip.faß.example' is not a domain name: it contains the non-ASCII character 'ß' "
        "(U+00DF); write internationalized names in their IDNA form (xn--…): "
        "'myip.xn--fa-hia.example'"
    ]
