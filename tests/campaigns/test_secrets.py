"""Secrets: every captured output at DEBUG, text and JSON logs, grepped for the secrets.

The real ``ddnsd`` against the emulator: ``check-config`` (good and refused), ``ip``,
``once`` (also right after every token was revoked, so the 401 and renewal paths log),
``present``/``cleanup``, the certbot and dehydrated hooks, and ``run`` serving httpreq,
acme-dns, dyndns2, /metrics, /healthz and /readyz with right and wrong credentials.
Every stdout, stderr, daemon log, HTTP answer and metrics page is searched for the
private key (each line of its PEM), every access token (the token cache's, and anything
shaped like a JWT), each password and each password's basic-auth form.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from daemon_support import DDNSD, free_port, run, wait_for, write_config

from ddnsd.acme.challenge import challenge_value

HTTPREQ = ("lego", "httpreq-pw-Zq81")
ACMEDNS = ("certmanager", "acmedns-key-Yx72")
ROUTER = ("router", "dyndns-pw-Wv63")
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def config(tmp: Path, emulator: Any, port: int) -> Path:
    addr = tmp / "address"
    addr.write_text("81.2.69.160\n")
    (tmp / "httpreq.pw").write_text(HTTPREQ[1] + "\n")
    extra = f"""
[acme]
zones = ["example.test"]
poll_interval = "0.05s"

[acme.httpreq]
username = "{HTTPREQ[0]}"
password_file = "httpreq.pw"

[[acme.accounts]]
username = "{ACMEDNS[0]}"
password = "{ACMEDNS[1]}"
fqdn = "_acme-challenge.example.test"

[dyndns]
username = "{ROUTER[0]}"
password = "{ROUTER[1]}"
"""
    return write_config(tmp / "c.toml", emulator, address_file=addr, http_port=port, extra=extra)


class Outputs:
    """Everything captured, by where it came from."""

    def __init__(self) -> None:
        self.texts: dict[str, bytes] = {}

    def add(self, where: str, data: str | bytes) -> None:
        self.texts[f"{len(self.texts):03d} {where}"] = (
            data.encode() if isinstance(data, str) else data
        )

    def command(self, where: str, args: list[str], env: dict[str, str] | None = None) -> Any:
        out = run(args, env=env)
        self.add(f"{where} stdout", out.stdout)
        self.add(f"{where} stderr", out.stderr)
        return out


def secrets_of(tmp: Path, emulator: Any) -> list[bytes]:
    key_lines = [
        line.encode()
        for line in emulator.private_key_path.read_text().splitlines()
        if len(line) >= 40 and "PRIVATE KEY" not in line
    ]
    tokens = [
        json.loads(p.read_text())["token"].encode()
        for p in (tmp / "state").glob("transip-token-*.json")
    ]
    passwords = [p for _, p in (HTTPREQ, ACMEDNS, ROUTER)]
    basics = [base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in (HTTPREQ, ROUTER)]
    return key_lines + tokens + [s.encode() for s in passwords + basics] + [b"PRIVATE KEY-----"]


def commands(outputs: Outputs, cfg: Path, fmt: str, emulator: Any, seen_tokens: set[bytes]) -> None:
    log = ["--log-level", "DEBUG", "--log-format", fmt, "-c", str(cfg)]
    name = "_acme-challenge.example.test"
    outputs.command(f"check-config {fmt}", [*log, "check-config"])
    outputs.command(f"ip {fmt}", [*log, "ip"])
    outputs.command(f"once {fmt}", [*log, "once"])
    keep_tokens(cfg.parent, seen_tokens)
    emulator.revoke(all=True)  # the next command meets a 401 and renews
    outputs.command(f"once after revoke {fmt}", [*log, "once"])
    keep_tokens(cfg.parent, seen_tokens)
    value = challenge_value(f"tok.{fmt}")
    outputs.command(f"present {fmt}", [*log, "present", name, value])
    outputs.command(f"cleanup {fmt}", [*log, "cleanup", name, value])
    env = {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": value}
    outputs.command(f"certbot-auth {fmt}", [*log, "hook", "certbot-auth"], env=env)
    outputs.command(f"certbot-cleanup {fmt}", [*log, "hook", "certbot-cleanup"], env=env)
    for handler in ("deploy_challenge", "clean_challenge"):
        args = [*log, "hook", "dehydrated", handler, "example.test", "tok", value]
        outputs.command(f"dehydrated {handler} {fmt}", args)
    bad = cfg.parent / "bad.toml"
    bad.write_text(cfg.read_text().replace('interval = "1s"', 'interval = "nan"'))
    outputs.command(f"check-config refused {fmt}", [*log[:4], "-c", str(bad), "check-config"])


def keep_tokens(tmp: Path, seen: set[bytes]) -> None:
    for p in (tmp / "state").glob("transip-token-*.json"):
        seen.add(json.loads(p.read_text())["token"].encode())


def daemon(outputs: Outputs, cfg: Path, fmt: str, port: int, rounds: int) -> None:
    log_path = cfg.parent / f"daemon-{fmt}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [*DDNSD, "--log-level", "DEBUG", "--log-format", fmt, "-c", str(cfg), "run"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: b"http: http://" in log_path.read_bytes(), what="the listener")
            for i in range(rounds):
                value = challenge_value(f"daemon.{fmt}.{i}")
                body = {"fqdn": "_acme-challenge.example.test", "value": value}
                for auth in (HTTPREQ, (HTTPREQ[0], "wrong")):
                    for action in ("present", "cleanup"):
                        r = requests.post(f"{base}/acme/{action}", json=body, auth=auth, timeout=30)
                        outputs.add(f"httpreq {action} {r.status_code}", r.content)
                for key in (ACMEDNS[1], "wrong"):
                    headers = {"X-Api-User": ACMEDNS[0], "X-Api-Key": key}
                    r = requests.post(
                        f"{base}/update",
                        json={"subdomain": "_acme-challenge", "txt": value},
                        headers=headers,
                        timeout=30,
                    )
                    outputs.add(f"acme-dns {r.status_code}", r.content)
                for auth in (ROUTER, (ROUTER[0], "wrong")):
                    r = requests.get(
                        f"{base}/nic/update?hostname=home.example.test&myip=81.2.69.16{i % 10}",
                        auth=auth,
                        timeout=30,
                    )
                    outputs.add(f"dyndns {r.status_code}", r.content)
            for path in ("/metrics", "/healthz", "/readyz"):
                outputs.add(path, requests.get(base + path, timeout=10).content)
            time.sleep(0.3)  # let the round a push triggered log its lines
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    outputs.add(f"daemon log {fmt}", log_path.read_bytes())


def test_secrets(
    emulator: Any, tmp_path: Path, campaign_scale: int, figures: Callable[..., None]
) -> None:
    port = free_port()
    cfg = config(tmp_path, emulator, port)
    outputs = Outputs()
    tokens: set[bytes] = set()
    # quick size: the commands log text and the daemon JSON; full size: both, each way
    pairs = [("text", "json"), ("json", "text")][: 1 if campaign_scale == 1 else 2]
    for commands_fmt, daemon_fmt in pairs:
        commands(outputs, cfg, commands_fmt, emulator, tokens)
        daemon(outputs, cfg, daemon_fmt, port, rounds=2 * campaign_scale)
    keep_tokens(tmp_path, tokens)
    secrets = secrets_of(tmp_path, emulator) + sorted(tokens)
    assert len(tokens) >= 2 and all(secrets)  # the revoke made a second token
    found = {
        where: [s[:12] for s in secrets if s in text] + JWT.findall(text)[:1]
        for where, text in outputs.texts.items()
    }
    leaks = {where: what for where, what in found.items() if what}
    tracebacks = sum(b"Traceback" in text for text in outputs.texts.values())
    figures(
        "secrets (DEBUG logs, text and JSON, of every command, hook and the HTTP API)",
        cases=len(outputs.texts),
        tracebacks=tracebacks,
        secrets_found=sum(len(v) for v in leaks.values()),
    )
    assert leaks == {}
    assert tracebacks == 0
