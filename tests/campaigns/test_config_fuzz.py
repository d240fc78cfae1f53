"""Config fuzz: mutated config files through ``ddnsd check-config``.

A complete, valid configuration (every section, secrets inline and in files) is
mutated, one to three changes per case, seeded: values of the wrong type, NaN and
infinity, strings with control characters, binary garbage, unknown keys, bad address
sources, missing sections, a cut-short file, bytes that are not UTF-8. Each case runs
``check-config`` in this process (``ddnsd.cli.main``, what the command runs).

Every outcome must be exit 0 with the configuration printed, or exit 2 with one line
``ddnsd: …`` and one ``  - key: …`` line per problem, every line free of control
characters; never another exit code or an exception (a traceback), and the planted
passwords never in the output.
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from ddnsd.cli import main

BASE_CASES = 60
SECRETS = ["inline-s3cret-one", "inline-s3cret-two", "file-s3cret-three"]


def valid(tmp: Path, key: Path) -> dict[str, Any]:
    shutil.copy(key, tmp / "transip.key")
    (tmp / "transip.key").chmod(0o600)
    (tmp / "dyndns.pw").write_text(SECRETS[2] + "\n")
    return {
        "transip": {"login": "demo", "private_key_file": "transip.key", "timeout": "10s"},
        "records": [
            {"domain": "example.test", "name": "home", "type": "A", "ttl": 300},
            {"domain": "example.test", "name": "home", "type": "AAAA", "ipv6_host": "::1"},
        ],
        "detect": {
            "ipv4": ["https://api.ipify.org", "dns:opendns", "static:81.2.69.160"],
            "ipv6": ["dns:google", "iface:eth0"],
            "agree": 1,
            "timeout": "5s",
        },
        "schedule": {"interval": "5m", "verify": "1h", "jitter": 0},
        "dns": {"nameservers": ["127.0.0.1:8053"]},
        "http": {"listen": "127.0.0.1:0"},
        "state": {"dir": str(tmp / "state")},
        "acme": {
            "zones": ["example.test"],
            "propagation_timeout": "10m",
            "httpreq": {"username": "lego", "password": SECRETS[0]},
            "accounts": [
                {"username": "cm", "password": SECRETS[1], "fqdn": "_acme-challenge.example.test"}
            ],
        },
        "dyndns": {"username": "router", "password_file": "dyndns.pw"},
    }


NASTY_VALUES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    -1,
    0,
    10**30,
    1.5,
    True,
    "",
    " ",
    "nan",
    "1e999",
    "a\nb",
    "\x00",
    "\x1b[2J",
    "\u2028",
    "ü",
    "x" * 5000,
    [],
    {},
    ["x"],
    {"k": "v"},
    "static:2a01:7c8::1",
    "http://example.com/",
    "push",
    "dns:",
    "cmd:",
    "iface:a/b",
    "bücher.test",
    "a..b",
    "_acme-challenge.x\n.test",
    "127.0.0.1:70000",
    "localhost:1",
]
BAD_SOURCES = [
    "ftp://x",
    "dns:nope",
    "static:not-an-ip",
    "static:10.0.0.1",
    "cmd:'unclosed",
    "file:",
    "iface:waytoolonginterfacename",
    "203.0.113.5",
    "https://",
    "https://x:99999/",
    "\x07",
]


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path (dict keys and list indexes) to a value in ``data``."""
    out = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for k, v in items:
        out.append((*prefix, k))
        out += paths(v, (*prefix, k))
    return out


def set_at(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def delete_at(data: Any, path: tuple[Any, ...]) -> None:
    for part in path[:-1]:
        data = data[part]
    del data[path[-1]]


def mutate(rng: random.Random, data: dict[str, Any]) -> bytes:
    """One to three mutations of ``data``, as the bytes of a config file."""
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["value", "value", "source", "unknown", "delete", "table"])
        where = rng.choice(paths(data))
        if kind == "value":
            set_at(data, where, rng.choice(NASTY_VALUES))
        elif kind == "source":
            detect = data.get("detect")
            if isinstance(detect, dict):
                detect[rng.choice(["ipv4", "ipv6"])] = [rng.choice(BAD_SOURCES)]
        elif kind == "unknown":
            section = rng.choice([s for s in data if isinstance(data[s], dict)])
            data[section][rng.choice(["timeot", "x", "login\n", "ü"])] = 1
        elif kind == "delete":
            delete_at(data, where)
        else:
            data[rng.choice(["transip2", "records", "http"])] = rng.choice([1, "x", [1], {"a": {}}])
    text = tomli_w.dumps(data).encode()
    tail = rng.random()
    if tail < 0.08:
        return text[: rng.randrange(len(text))]  # cut short
    if tail < 0.16:
        return text + bytes(rng.randrange(256) for _ in range(20))  # binary garbage
    if tail < 0.2:
        return text.replace(b"demo", b"d\xe9mo")  # Latin-1, not UTF-8
    return text


def check_config(cfg: Path) -> tuple[int | str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str = main(["-c", str(cfg), "check-config"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # a traceback in real life
            code = f"{type(exc).__name__}: {exc}"
    return code, out.getvalue(), err.getvalue()


def well_formed_refusal(err: str) -> bool:
    lines = err.splitlines()
    if not lines or not lines[0].startswith("ddnsd: "):
        return False
    return all(line.startswith("  - ") for line in lines[1:]) and all(
        line.isprintable() for line in lines
    )


def test_config_fuzz(
    tmp_path: Path, rsa_keypair: Any, campaign_scale: int, figures: Callable[..., None]
) -> None:
    base = valid(tmp_path, rsa_keypair.private_key_path)
    cfg = tmp_path / "config.toml"
    cfg.write_text(tomli_w.dumps(base))
    assert check_config(cfg)[0] == 0, check_config(cfg)
    rng = random.Random(11)
    tracebacks, secrets, bad, outcomes = 0, 0, [], {0: 0, 2: 0}
    for _ in range(BASE_CASES * campaign_scale):
        cfg.write_bytes(mutate(rng, tomllib.loads(tomli_w.dumps(base))))
        code, out, err = check_config(cfg)
        tracebacks += not isinstance(code, int) or "Traceback" in out + err
        secrets += sum(s in out + err for s in SECRETS)
        if (code == 0 and out.startswith("# effective configuration")) or (
            code == 2 and well_formed_refusal(err)
        ):
            outcomes[int(code)] += 1
        else:
            bad.append((code, err[-400:]))
    figures(
        "config fuzz (mutated TOML through check-config)",
        cases=BASE_CASES * campaign_scale,
        tracebacks=tracebacks,
        secrets_found=secrets,
    )
    assert (tracebacks, secrets, bad) == (0, 0, []), bad
    assert outcomes[2] > outcomes[0]  # most mutations break the config
