"""Plumbing for the end-to-end ACME tests: tools, a throw-away TLS CA, Pebble, ddnsd config.

Everything here talks only to loopback. Pebble (Debian's package ships no test certificates)
gets a CA and a server certificate made at test time; its ``-dnsserver`` points at the
emulator's authoritative DNS listener, so Pebble validates against what ddnsd wrote through
the emulated TransIP API.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import pytest
import requests
from acme_support import HTTPREQ_PASSWORD as HTTPREQ_PASSWORD  # re-exported for the e2e tests
from acme_support import write_ddnsd_config as write_ddnsd_config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CI = os.environ.get("CI") == "true"
ZONE = "example.test"
NAMES = (ZONE, f"*.{ZONE}")
CHALLENGE_PREFIX = "_acme-challenge"


# --------------------------------------------------------------------------- tools


def require_tool(name: str, candidates: Sequence[Path] = ()) -> str:
    """Path of the program ``name``: skip the test when it is missing, fail under CI=true."""
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed; run scripts/install-tools.sh (make tools)"
    if CI:
        pytest.fail(message + " — CI=true, so a missing tool is a failure", pytrace=False)
    pytest.skip(message)


def venv_tool(name: str) -> str:
    """A console script of this project's venv (ddnsd, certbot), else from PATH."""
    return require_tool(name, [Path(sys.executable).parent / name])


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the usual bind-to-0 trick)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"<no {path}>"
    return "\n".join(text.splitlines()[-lines:])


_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without anything that could steer a child elsewhere.

    Drops DDNSD_* (the config's env overlay: only the test's config file counts) and proxy
    settings (everything here is loopback), then adds ``extra``.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DDNSD_") and k.lower() not in _PROXY_VARS
    }
    env["NO_PROXY"] = "127.0.0.1,localhost,::1"
    env.update(extra or {})
    return env


def run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a client with a hard time bound; on failure the assertion shows its output."""
    try:
        proc = subprocess.run(
            list(cmd),
            env=child_env(env),
            cwd=cwd,
            timeout=timeout,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = _decode(exc.stdout) + _decode(exc.stderr)
        pytest.fail(f"{cmd[0]} did not finish within {timeout}s:\n{out[-6000:]}", pytrace=False)
    if check and proc.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}"
            f"\n--- stderr\n{proc.stderr[-6000:]}",
            pytrace=False,
        )
    return proc


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


# --------------------------------------------------------------------------- throw-away CA


@dataclass(frozen=True)
class TlsFiles:
    """A CA made at test time and a server certificate it signed for 127.0.0.1/localhost/::1."""

    ca_cert: Path
    cert: Path
    key: Path


def make_tls(directory: Path) -> TlsFiles:
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ddnsd e2e throw-away CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


# --------------------------------------------------------------------------- pebble


@dataclass
class Pebble:
    """A running Pebble: ``directory_url`` for clients, ``ca_bundle`` to trust its TLS."""

    directory_url: str
    management_url: str
    ca_bundle: Path
    dns_server: str
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def root_pem(self) -> str:
        """The root that signs this run's certificates (Pebble makes a new one per launch)."""
        url = f"{self.management_url}/roots/0"
        resp = requests.get(url, verify=str(self.ca_bundle), timeout=10)
        resp.raise_for_status()
        return resp.text

    def log(self) -> str:
        return tail(self.log_path, 60)


@contextlib.contextmanager
def start_pebble(
    workdir: Path, tls: TlsFiles, dns_server: str, *, startup_timeout: float = 20
) -> Iterator[Pebble]:
    """Debian's pebble on free loopback ports, resolving through ``dns_server``.

    A port taken between picking and binding (another test, another helper) gets a fresh
    set of ports, up to three times.
    """
    pebble_bin = require_tool("pebble")
    workdir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        pebble = _launch_pebble(pebble_bin, workdir, tls, dns_server)
        try:
            if _wait_for_directory(pebble, startup_timeout, last_try=attempt == 2):
                break
        except BaseException:
            stop_process(pebble.process)
            raise
    try:
        yield pebble
    finally:
        stop_process(pebble.process)


def _launch_pebble(pebble_bin: str, workdir: Path, tls: TlsFiles, dns_server: str) -> Pebble:
    listen, mgmt = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{listen}",
            "managementListenAddress": f"127.0.0.1:{mgmt}",
            "certificate": str(tls.cert),
            "privateKey": str(tls.key),
            # Ports Pebble's VA would connect to for http-01 / tls-alpn-01; unused for dns-01.
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    config_path = workdir / "pebble-config.json"
    config_path.write_text(json.dumps(config, indent=2))
    log_path = workdir / "pebble.log"
    env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
    with log_path.open("wb") as log:
        proc = spawn([pebble_bin, "-config", str(config_path), "-dnsserver", dns_server], log, env)
    return Pebble(
        directory_url=f"https://127.0.0.1:{listen}/dir",
        management_url=f"https://127.0.0.1:{mgmt}",
        ca_bundle=tls.ca_cert,
        dns_server=dns_server,
        log_path=log_path,
        process=proc,
    )


def _wait_for_directory(pebble: Pebble, timeout: float, *, last_try: bool) -> bool:
    """True once the directory and the root answer; False when a port was taken."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if pebble.process.poll() is not None:
            log = pebble.log()
            if "address already in use" in log and not last_try:
                return False
            pytest.fail(
                f"pebble exited with {pebble.process.returncode} at start:\n{log}", pytrace=False
            )
        try:
            resp = requests.get(pebble.directory_url, verify=str(pebble.ca_bundle), timeout=2)
            if resp.ok and "newOrder" in resp.json():
                pebble.root_pem()
                return True
        except (requests.RequestException, ValueError) as exc:
            last = exc
        time.sleep(0.1)
    pytest.fail(
        f"pebble's directory did not answer within {timeout}s ({last}):\n{pebble.log()}",
        pytrace=False,
    )


def spawn(
    args: list[str], log: IO[bytes], extra_env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own session, output (stdout and stderr) into ``log``, no stdin,
    with :func:`child_env` (plus ``extra_env``); :func:`stop_process` ends it."""
    return subprocess.Popen(
        args,
        env=child_env(extra_env),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_process(proc: subprocess.Popen[Any], grace: float = 5) -> None:
    """Terminate a child we started (its own session/group), then kill it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)


# --------------------------------------------------------------------------- certificates


def split_pem(text: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(text.encode())


def verify_cert(
    cert_path: Path,
    pebble: Pebble,
    *,
    chain_path: Path | None = None,
    names: Sequence[str] = NAMES,
) -> x509.Certificate:
    """Check that ``cert_path`` (leaf, optionally followed by its chain) chains to Pebble's root.

    ``chain_path`` gives the intermediates when they are in a separate file. Also checks that
    the leaf names exactly ``names``. Returns the leaf.
    """
    openssl = require_tool("openssl")
    certs = split_pem(cert_path.read_text())
    assert certs, f"{cert_path} holds no certificate"
    leaf, chain = certs[0], certs[1:]
    if chain_path is not None:
        chain += split_pem(chain_path.read_text())
    assert chain, f"no intermediate certificate next to {cert_path}"
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    with tempfile.TemporaryDirectory(prefix="ddnsd-verify-") as tmp:
        root = Path(tmp, "root.pem")
        root.write_text(pebble.root_pem())
        leaf_file, chain_file = Path(tmp, "leaf.pem"), Path(tmp, "chain.pem")
        leaf_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        chain_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
        proc = subprocess.run(
            [openssl, "verify", "-CAfile", root, "-untrusted", chain_file, leaf_file],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert proc.returncode == 0, f"certificate does not verify: {proc.stdout}{proc.stderr}"
    return leaf


# --------------------------------------------------------------------------- clients


def lego_command(lego: str, pebble: Pebble, workdir: Path, provider: str) -> list[str]:
    """Debian's lego 4.9: global flags before the ``run`` action."""
    return [
        lego,
        "--server",
        pebble.directory_url,
        "--email",
        "e2e@example.test",
        "--accept-tos",
        "--path",
        str(workdir),
        "--dns",
        provider,
        "--dns.resolvers",
        pebble.dns_server,
        "--dns.disable-cp",
        "-d",
        "example.test",
        "-d",
        "*.example.test",
        "run",
    ]


# --------------------------------------------------------------------------- emulator + ddnsd


class EmulatorLike(Protocol):
    """The parts of tests/conftest.py's EmulatorHandle used here."""

    api_url: str
    base_url: str
    dns_server: str
    login: str
    private_key_path: Path

    def state(self) -> dict[str, Any]: ...


def zone_entries(emulator: EmulatorLike, domain: str = ZONE) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = emulator.state()["domains"][domain]
    return entries


def challenge_entries(emulator: EmulatorLike, domain: str = ZONE) -> list[dict[str, Any]]:
    return [
        e
        for e in zone_entries(emulator, domain)
        if str(e["name"]).lower().startswith(CHALLENGE_PREFIX)
    ]


def foreign_entries(emulator: EmulatorLike) -> dict[str, list[tuple[str, int, str, str]]]:
    """Every entry of every zone that is not an ACME challenge, sorted (for before/after)."""
    out: dict[str, list[tuple[str, int, str, str]]] = {}
    for domain, entries in emulator.state()["domains"].items():
        out[domain] = sorted(
            (str(e["name"]), int(e["expire"]), str(e["type"]), str(e["content"]))
            for e in entries
            if not str(e["name"]).lower().startswith(CHALLENGE_PREFIX)
        )
    return out


def assert_zone_clean(emulator: EmulatorLike, foreign_before: Mapping[str, Any]) -> None:
    """No challenge TXT left anywhere, and nothing else in the zones changed."""
    for domain in emulator.state()["domains"]:
        left = challenge_entries(emulator, domain)
        assert left == [], f"{domain} still holds challenge entries: {left}"
    assert foreign_entries(emulator) == foreign_before


@contextlib.contextmanager
def running_daemon(
    config: Path, listen: str, workdir: Path, *, startup_timeout: float = 30
) -> Iterator[str]:
    """``ddnsd -c CONFIG run`` in the background until its HTTP API answers; yields its URL."""
    url = f"http://{listen}"

    def ready() -> bool:
        try:
            requests.get(f"{url}/healthz", timeout=2)
        except requests.RequestException:
            return False
        return True

    with _daemon(config, workdir, ready, f"answer on {url}", startup_timeout):
        yield url


@contextlib.contextmanager
def hook_daemon(config: Path, workdir: Path, *, startup_timeout: float = 30) -> Iterator[Path]:
    """``ddnsd -c CONFIG run`` serving hooks on ddnsd.sock in the config's state dir, the
    way the shipped unit serves certbot; yields the daemon's log file."""
    sock = config.parent / "state" / "ddnsd.sock"
    with _daemon(config, workdir, sock.is_socket, f"listen on {sock}", startup_timeout) as log:
        yield log


def hooks_served(log: Path) -> int:
    """How many hook requests the daemon ran (it logs each one)."""
    return log.read_text(errors="replace").count("ddnsd.handoff.server: hook from uid")


HOOK_MODES = ("daemon", "in-process")


@contextlib.contextmanager
def hooks_served_by(mode: str, config: Path, workdir: Path) -> Iterator[Callable[[], int]]:
    """``mode`` "daemon": a running daemon does the hooks' work (yields how many hook
    requests it ran so far); "in-process": no daemon, each hook works itself (yields 0)."""
    if mode == "in-process":
        yield lambda: 0
        return
    with hook_daemon(config, workdir / "daemon") as log:
        yield lambda: hooks_served(log)


@contextlib.contextmanager
def _daemon(
    config: Path, workdir: Path, ready: Callable[[], bool], what: str, startup_timeout: float
) -> Iterator[Path]:
    ddnsd = venv_tool("ddnsd")
    log_path = workdir / "ddnsd-run.log"
    workdir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = spawn([ddnsd, "-c", str(config), "run"], log)
    try:
        deadline = time.monotonic() + startup_timeout
        while not ready():
            if proc.poll() is not None:
                pytest.fail(
                    f"ddnsd run exited with {proc.returncode}:\n{tail(log_path)}", pytrace=False
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"ddnsd run did not {what} within {startup_timeout}s:\n{tail(log_path)}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield log_path
    finally:
        stop_process(proc)
