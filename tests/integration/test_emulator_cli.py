"""``python -m ddnsd.emulator`` / ``ddnsd emulator`` as a process: readiness, openssl + curl auth,
exit codes, TLS, rate limit, state file."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tls_support import self_signed

from ddnsd.authdns import parse_server, query
from ddnsd.emulator.tokens import DEMO_TOKEN

READY = re.compile(
    r"^ddnsd emulator: API (?P<api>https?://\S+/v6), DNS (?P<dns>\S+) \(udp\+tcp\), "
    r"login (?P<login>\S+), domains (?P<domains>.+)$"
)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required for this test (CI=true: no skipping)")
        pytest.skip(f"{name} not installed")
    return path


@dataclass
class Running:
    proc: subprocess.Popen[str]
    api_url: str
    dns: str
    ready_seconds: float


def start(args: list[str], module: str = "ddnsd.emulator", timeout: float = 20) -> Running:
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    ready = time.monotonic() - began
    if not line or not line[0]:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise AssertionError(f"emulator did not become ready: {err}")
    m = READY.match(line[0].strip())
    assert m, line[0]
    return Running(proc, m["api"], m["dns"], ready)


def stop(running: Running) -> int:
    running.proc.send_signal(signal.SIGTERM)
    return running.proc.wait(timeout=15)


@pytest.fixture
def launched() -> Iterator[list[Running]]:
    procs: list[Running] = []
    yield procs
    for r in procs:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait(timeout=10)
        for stream in (r.proc.stdout, r.proc.stderr):
            if stream:
                stream.close()


def base_args(keypair: Any, *extra: str) -> list[str]:
    return [
        "--listen",
        "127.0.0.1:0",
        "--dns-listen",
        "127.0.0.1:0",
        "--login",
        "demo",
        "--public-key",
        str(keypair.public_key_path),
        "--domain",
        "example.test",
        *extra,
    ]


def test_ready_line_and_openssl_curl_auth(
    rsa_keypair: Any, launched: list[Running], tmp_path: Path
) -> None:
    openssl, curl = require_tool("openssl"), require_tool("curl")
    run = start(base_args(rsa_keypair, "--domain", "other.test"))
    launched.append(run)
    print(f"\nemulator ready after {run.ready_seconds:.3f} s (python -m ddnsd.emulator)")
    body = tmp_path / "body.json"
    body.write_text(
        json.dumps(
            {
                "login": "demo",
                "nonce": "98475920834",
                "read_only": False,
                "expiration_time": "30 minutes",
                "label": "curl test",
                "global_key": True,
            }
        )
    )
    sig_file = tmp_path / "sig.bin"
    subprocess.run(
        [
            openssl,
            "dgst",
            "-sha512",
            "-sign",
            str(rsa_keypair.private_key_path),
            "-out",
            str(sig_file),
            str(body),
        ],
        check=True,
    )
    signature = base64.b64encode(sig_file.read_bytes()).decode()
    out = subprocess.run(
        [
            curl, "-sS", "-X", "POST",
            "-H", "Content-Type: application/json",
            "-H", f"Signature: {signature}",
            "--data-binary", f"@{body}",
            "-w", "\n%{http_code}",
            run.api_url + "/auth",
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    text, status = out.rsplit("\n", 1)
    assert status == "201"
    token = json.loads(text)["token"]
    pong = subprocess.run(
        [curl, "-sS", "-H", f"Authorization: Bearer {token}", run.api_url + "/api-test"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(pong) == {"ping": "pong"}
    assert query(parse_server(run.dns), "mail.other.test", "A") == ["198.51.100.25"]
    assert stop(run) == 0


def test_sigint_exits_0(rsa_keypair: Any, launched: list[Running]) -> None:
    run = start(base_args(rsa_keypair))
    launched.append(run)
    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(timeout=15) == 0


def test_ddnsd_emulator_subcommand(rsa_keypair: Any, launched: list[Running]) -> None:
    run = start(["emulator", *base_args(rsa_keypair)], module="ddnsd")
    launched.append(run)
    r = requests.get(
        run.api_url + "/api-test", headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=10
    )
    assert r.json() == {"ping": "pong"}
    assert stop(run) == 0


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "missing-key",
            "ddnsd emulator: cannot read --public-key /nonexistent/demo.pub.pem: "
            "No such file or directory",
        ),
        ("not-pem", "is not a PEM public key (BEGIN PUBLIC KEY)"),
        (
            "bad-listen",
            "ddnsd emulator: --listen 'somewhere:80': 'somewhere' is not an IP address; listen "
            "on an address of this machine (127.0.0.1:9333, [::1]:9333, or 0.0.0.0:9333 for all "
            "of them)",
        ),
        (
            "no-port",
            "ddnsd emulator: --dns-listen '127.0.0.1' is not ADDRESS:PORT (127.0.0.1:9333, "
            "[::1]:9333)",
        ),
        ("tls-half", "ddnsd emulator: --tls-cert and --tls-key go together"),
        ("port-busy", "ddnsd emulator: cannot start: Address already in use"),
        ("fault-rate", "ddnsd emulator: --fault-rate must be between 0 and 1"),
        ("bad-state", "ddnsd emulator: cannot start: state file "),
    ],
    ids=lambda v: v if " " not in v else "",
)
def test_bad_flags_exit_2_with_one_line(
    rsa_keypair: Any, tmp_path: Path, case: str, expected: str
) -> None:
    args = base_args(rsa_keypair)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    if case == "missing-key":
        args[args.index("--public-key") + 1] = "/nonexistent/demo.pub.pem"
    elif case == "not-pem":
        bad = tmp_path / "bad.pem"
        bad.write_text("hello")
        args[args.index("--public-key") + 1] = str(bad)
    elif case == "bad-listen":
        args[args.index("--listen") + 1] = "somewhere:80"
    elif case == "no-port":
        args[args.index("--dns-listen") + 1] = "127.0.0.1"
    elif case == "tls-half":
        args += ["--tls-cert", str(tmp_path / "cert.pem")]
    elif case == "port-busy":
        args[args.index("--listen") + 1] = f"127.0.0.1:{busy.getsockname()[1]}"
    elif case == "fault-rate":
        args += ["--fault-rate", "2"]
    elif case == "bad-state":
        (tmp_path / "state.json").write_text("{not json")
        args += ["--state", str(tmp_path / "state.json")]
    proc = subprocess.run(
        [sys.executable, "-m", "ddnsd.emulator", *args], capture_output=True, text=True, timeout=30
    )
    busy.close()
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(expected) or expected in lines[0]


def test_missing_public_key_flag_is_usage_error(rsa_keypair: Any) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ddnsd.emulator", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "--public-key" in proc.stderr


def test_rate_limit_flag(rsa_keypair: Any, launched: list[Running]) -> None:
    run = start(base_args(rsa_keypair, "--rate-limit", "2"))
    launched.append(run)
    auth = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    codes = [
        requests.get(run.api_url + "/api-test", headers=auth, timeout=10).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_rate_limit_window_flag(rsa_keypair: Any, launched: list[Running]) -> None:
    run = start(base_args(rsa_keypair, "--rate-limit", "1", "--rate-limit-window", "5"))
    launched.append(run)
    auth = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    before = time.time()
    first = requests.get(run.api_url + "/api-test", headers=auth, timeout=10)
    refused = requests.get(run.api_url + "/api-test", headers=auth, timeout=10)
    assert (first.status_code, refused.status_code) == (200, 429)
    reset = int(first.headers["X-Rate-Limit-Reset"])
    assert before + 5 <= reset <= time.time() + 6  # the oldest request leaves after 5 s
    assert refused.json()["error"].startswith("Rate limit of 1 requests per 5 seconds exceeded")


@pytest.mark.parametrize("window", ["0", "-1", "nan", "100000"])
def test_rate_limit_window_must_be_sane(rsa_keypair: Any, window: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ddnsd.emulator",
            *base_args(rsa_keypair, "--rate-limit-window", window),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "--rate-limit-window must be more than 0 and at most 86400 seconds" in proc.stderr


def _sign(keypair: Any, raw: bytes) -> str:
    key = serialization.load_pem_private_key(keypair.private_key_path.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return base64.b64encode(key.sign(raw, padding.PKCS1v15(), hashes.SHA512())).decode()


def _token(keypair: Any, api_url: str, verify: bool | str = True) -> str:
    raw = json.dumps(
        {"login": "demo", "nonce": os.urandom(8).hex(), "label": f"t{time.time_ns()}"}
    ).encode()
    r = requests.post(
        api_url + "/auth",
        data=raw,
        headers={"Signature": _sign(keypair, raw)},
        verify=verify,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _add_home_a(keypair: Any, api_url: str) -> None:
    """Add home.example.test A 192.0.2.1 through the API, as a client would."""
    token = _token(keypair, api_url)
    r = requests.post(
        api_url + "/domains/example.test/dns",
        json={"dnsEntry": {"name": "home", "expire": 300, "type": "A", "content": "192.0.2.1"}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 201


def test_state_flag_keeps_zones_across_restarts(
    rsa_keypair: Any, launched: list[Running], tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    run = start(base_args(rsa_keypair, "--state", str(state)))
    launched.append(run)
    _add_home_a(rsa_keypair, run.api_url)
    assert stop(run) == 0
    again = start(base_args(rsa_keypair, "--state", str(state)))
    launched.append(again)
    assert query(parse_server(again.dns), "home.example.test", "A") == ["192.0.2.1"]


def test_propagation_delay_flag(rsa_keypair: Any, launched: list[Running]) -> None:
    run = start(base_args(rsa_keypair, "--propagation-delay", "3600"))
    launched.append(run)
    _add_home_a(rsa_keypair, run.api_url)
    assert query(parse_server(run.dns), "home.example.test", "A") == []


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, generated at test time."""
    return self_signed(tmp_path_factory.mktemp("tls"), "localhost", "127.0.0.1")


def test_tls_flags_serve_https(
    rsa_keypair: Any, launched: list[Running], tls_files: tuple[Path, Path]
) -> None:
    curl = require_tool("curl")
    cert, key = tls_files
    run = start(base_args(rsa_keypair, "--tls-cert", str(cert), "--tls-key", str(key)))
    launched.append(run)
    assert run.api_url.startswith("https://127.0.0.1:")
    token = _token(rsa_keypair, run.api_url, verify=str(cert))
    out = subprocess.run(
        [
            curl,
            "-sS",
            "--cacert",
            str(cert),
            "-H",
            f"Authorization: Bearer {token}",
            run.api_url + "/api-test",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out) == {"ping": "pong"}
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(run.api_url + "/api-test", timeout=10)  # not trusted without the CA
    assert stop(run) == 0


def test_tls_in_process(emulator_factory: Any, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    emu = emulator_factory(tls_cert=cert, tls_key=key)
    assert emu.api_url.startswith("https://")
    token = emu.token()
    r = requests.get(
        emu.api_url + "/domains",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(cert),
        timeout=10,
    )
    assert [d["name"] for d in r.json()["domains"]] == ["example.test", "other.test"]
    assert emu.request_count() == 2
