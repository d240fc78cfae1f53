"""The Dockerfile in Docker's engine: built as shipped with no registry but its base image,
run as README's Docker section says.

No registry is reachable, so the Debian 12 root of tests/system (with python and pip in
/usr/local/bin) is imported under the name on the Dockerfile's FROM lines; ``docker build``
(no ``--pull``) then uses it. An image of that name already present is used as it is.
The containers reach an emulator listening on the host's side of Docker's bridge.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from system_support import (
    DOCKER,
    ROOT,
    auth_requests,
    container_state,
    docker,
    docker_engine,
    from_images,
    make_base_image,
    readme_block,
    records,
    require,
    wait_for,
)

from ddnsd.emulator.keys import KeyPair
from ddnsd.emulator.server import Emulator, EmulatorConfig

pytestmark = [pytest.mark.system, pytest.mark.timeout(1800)]  # the first run debootstraps

IMAGE = "ddnsd:system-test"
UID = "10001"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    require("dockerd", DOCKER, "iptables", "ip")
    with docker_engine(tmp_path_factory.mktemp("dockerd") / "dockerd.log"):
        yield


@pytest.fixture(scope="module")
def image(engine: None, debian_tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    for base in from_images(ROOT / "Dockerfile"):
        if subprocess.run([DOCKER, "image", "inspect", base], capture_output=True).returncode:
            make_base_image(debian_tarball, base, tmp_path_factory.mktemp("base"))
    # README: `docker build -t ddnsd .` (our tag, so a user's own ddnsd image stays)
    (build,) = [x for x in readme_block("### Docker") if x.startswith("docker build")]
    argv = build.replace("-t ddnsd ", f"-t {IMAGE} ").split()
    assert argv[0] == "docker" and argv[-1] == "."
    docker(*argv[1:-1], str(ROOT), timeout=1200)
    return IMAGE


@pytest.fixture(scope="module")
def bridge(engine: None) -> str:
    """The host's address on Docker's default bridge (containers reach it)."""
    return docker(
        "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"
    ).strip()


@pytest.fixture(scope="module")
def emulator(rsa_keypair: KeyPair, bridge: str) -> Iterator[Emulator]:
    with Emulator(emulator_config(rsa_keypair, bridge)) as emu:
        yield emu


def emulator_config(keypair: KeyPair, host: str) -> EmulatorConfig:
    return EmulatorConfig(
        users={"demo": keypair.public_pem}, domains=["example.test"], host=host, dns_host=host
    )


@pytest.fixture(scope="module")
def files(
    emulator: Emulator, rsa_keypair: KeyPair, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """config.toml and transip.key in a directory, as README's docker run expects them."""
    d = tmp_path_factory.mktemp("docker")
    write_files(d, emulator, rsa_keypair)
    return d


def write_files(d: Path, emu: Emulator, keypair: KeyPair) -> None:
    d.chmod(0o755)
    shutil.copy(keypair.private_key_path, d / "transip.key")
    os.chown(d / "transip.key", int(UID), int(UID))  # README: chown 10001:10001, chmod 0400
    (d / "transip.key").chmod(0o400)
    path = d / "config.toml"
    host, dns_port = emu.dns_address
    path.write_text(f"""\
[transip]
login = "demo"
api_url = "{emu.api_url}"

[[records]]
domain = "example.test"
name = "home"
type = "A"
ttl = 300

[detect]
ipv4 = ["static:192.0.2.20"]
agree = 1
allow_private = true

[schedule]
interval = "1s"
jitter = 0

[dns]
nameservers = ["{host}:{dns_port}"]
""")
    path.chmod(0o644)


@pytest.fixture
def containers() -> Iterator[list[str]]:
    """Names of the containers (and named volumes) a test made; removed after it."""
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run([DOCKER, "rm", "-f", "-v", name], capture_output=True, timeout=60)
    for name in names:
        subprocess.run([DOCKER, "volume", "rm", "-f", name], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def volume(engine: None) -> Iterator[str]:
    name = f"ddnsd-system-{secrets.token_hex(4)}"
    docker("volume", "create", name)
    yield name
    subprocess.run([DOCKER, "volume", "rm", "-f", name], capture_output=True, timeout=60)


def readme_run(files: Path, volume: str, port: int, name: str, *extra: str) -> list[str]:
    """README's docker run line, with this test's files, volume, port and name."""
    text = " ".join(x.rstrip("\\").strip() for x in readme_block("### Docker")[2:])
    assert text.startswith("docker run -d --name ddnsd "), text
    text = (
        text.replace("--name ddnsd", f"--name {name}")
        .replace("ddnsd-state:", f"{volume}:")
        .replace("$PWD/", f"{files}/")
        .replace("127.0.0.1:9333:9333", f"127.0.0.1:{port}:9333")
    )
    argv = shlex.split(text)
    assert argv[-1] == "ddnsd"
    return [*argv[1:-1], "--health-interval=1s", *extra, IMAGE]


def start(containers: list[str], argv: list[str]) -> str:
    name = argv[argv.index("--name") + 1]
    containers.append(name)
    docker(*argv)
    return name


def health(name: str) -> str | None:
    state: dict[str, Any] = container_state(name)
    return str(state["Health"]["Status"]) if state.get("Health") else None


def free_port() -> int:
    from daemon_support import free_port as free

    return free()


def test_image_builds_as_shipped_on_the_local_base(image: str) -> None:
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image))
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["ddnsd"] and config["Cmd"] == ["run"]


def test_runs_as_readme_says_healthy_as_10001(
    image: str, files: Path, volume: str, emulator: Emulator, containers: list[str]
) -> None:
    port = free_port()
    name = start(containers, readme_run(files, volume, port, "ddnsd-system-a"))
    wait_for("healthy", lambda: health(name) == "healthy", 120)
    status = docker("exec", name, "cat", "/proc/1/status")  # ddnsd is the container's PID 1
    assert re.search(rf"^Uid:\s+{UID}\s", status, re.M), status
    # The published port reaches the daemon (-p 127.0.0.1:PORT:9333, as README says).
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    wait_for("the record at the emulator", lambda: records(emulator, "home") == ["192.0.2.20"], 60)
    # docker stop: SIGTERM, SIGKILL after 10 s (exit 137); a clean stop in time exits 0.
    docker("stop", "--time", "10", name)
    state = container_state(name)
    assert state["ExitCode"] == 0, state
    logs = subprocess.run([DOCKER, "logs", name], capture_output=True, text=True, timeout=60)
    assert logs.stderr.strip().splitlines()[-1].endswith("stopped"), logs.stderr[-2000:]
    assert "Traceback" not in logs.stderr


def test_new_container_reuses_the_state_volume_read_only_without_capabilities(
    image: str, files: Path, volume: str, emulator: Emulator, containers: list[str]
) -> None:
    """After the first container's token and records: no new token, only the change."""
    tokens = auth_requests(emulator)
    assert tokens > 0
    argv = readme_run(
        files,
        volume,
        free_port(),
        "ddnsd-system-b",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--cap-drop=ALL",
        "-e",
        'DDNSD_DETECT__IPV4=["static:192.0.2.21"]',
    )
    name = start(containers, argv)
    wait_for("healthy", lambda: health(name) == "healthy", 120)
    wait_for(
        "the new address at the emulator", lambda: records(emulator, "home") == ["192.0.2.21"], 60
    )
    assert auth_requests(emulator) == tokens


def test_failing_health_check_shows_unhealthy(
    image: str,
    rsa_keypair: KeyPair,
    bridge: str,
    containers: list[str],
    tmp_path: Path,
) -> None:
    """TransIP unreachable (an emulator's ports, the emulator stopped): readiness (/readyz,
    "no successful round yet") fails, and the image's own HEALTHCHECK (``ddnsd healthcheck
    --ready``) makes Docker mark the container unhealthy."""
    with Emulator(emulator_config(rsa_keypair, bridge)) as emu:
        write_files(tmp_path, emu, rsa_keypair)
    volume = f"ddnsd-system-{secrets.token_hex(4)}"
    containers.append(volume)
    argv = readme_run(
        tmp_path,
        volume,
        free_port(),
        "ddnsd-system-c",
        "--health-start-period=1s",  # 0 would mean the image's 30 s
        "--health-retries=2",
    )
    name = start(containers, argv)
    wait_for("unhealthy", lambda: health(name) == "unhealthy", 120)
    state = container_state(name)
    assert state["Running"] is True  # unhealthy, not dead
    last = state["Health"]["Log"][-1]  # type: ignore[index]
    assert "/readyz answered 503" in last["Output"], last  # not-ready, not a crash or silence
