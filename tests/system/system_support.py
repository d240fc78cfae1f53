"""Hosts for tests/system: a Debian 12 root booted under systemd-nspawn, and Docker's engine.

One debootstrapped Debian 12 root serves both: it boots as a real systemd (PID 1) in
``systemd-nspawn``, and, with a venv at /usr/local (``python`` and ``pip`` on PATH, as in
the official image), it is imported into Docker under the name the Dockerfile's ``FROM``
lines use, so ``docker build`` runs with no registry. The root is cached as a tarball
under ``$XDG_CACHE_HOME/ddnsd-system`` (default ``~/.cache``): later runs skip
debootstrap. pip's cache for the booted root lives there too.

Both hosts change the machine they run on; each context manager puts back what it
changed: the empty ``payload``/``supervisor`` cgroups nspawn leaves at the cgroup roots;
dockerd (when we started it), its ``docker0`` bridge, its netns mount and the iptables
FORWARD policy it sets to DROP.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

from ddnsd.emulator.server import Emulator

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI", "").lower() == "true"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ddnsd-system"
SUITE = "bookworm"
MIRROR = os.environ.get("DDNSD_SYSTEM_MIRROR", "http://deb.debian.org/debian")
# procps: /bin/kill, which ddnsd.service's ExecReload= runs (every Debian install has it).
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "procps",
    "python3",
    "python3-venv",
    "ca-certificates",
)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOCKER = "/usr/bin/docker"  # Debian's client (docker.io); another docker may come first
CGROUP_LEFTOVERS = ("payload", "supervisor")

T = TypeVar("T")


def require(*commands: str) -> None:
    """Root and these programs, or skip with the reason (fail under CI=true)."""
    missing = [c for c in commands if shutil.which(c) is None and not Path(c).is_file()]
    reason = ""
    if os.geteuid() != 0:
        reason = "tests/system need root (systemd-nspawn, dockerd)"
    elif missing:
        reason = f"missing {', '.join(missing)} (scripts/install-tools.sh installs them)"
    if reason:
        if CI:
            pytest.fail(reason)
        pytest.skip(reason)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.2) -> T:
    """Poll ``probe`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def run(
    argv: list[str],
    timeout: float = 600,
    stdin: IO[bytes] | None = None,
    env: dict[str, str] | None = None,
) -> str:
    out = subprocess.run(
        argv, stdin=stdin, env=env, capture_output=True, timeout=timeout, check=False
    )
    stdout, stderr = out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: exit {out.returncode}\n{stdout}{stderr}")
    return stdout


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL when that has not ended it within a minute."""
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def records(emu: Emulator, name: str, type_: str = "A") -> list[str]:
    """The values of ``name``/``type_`` in the emulator's example.test zone."""
    entries: list[dict[str, Any]] = emu.state()["domains"]["example.test"]
    return sorted(e["content"] for e in entries if e["name"] == name and e["type"] == type_)


def auth_requests(emu: Emulator) -> int:
    """Tokens asked for so far (POST /v6/auth)."""
    rows = emu.stats()["requests"]
    return sum(r["count"] for r in rows if r["method"] == "POST" and r["path"] == "/v6/auth")


# ----------------------------------------------------------------------------- the root


def debian_root_tarball() -> Path:
    """The debootstrapped Debian 12 root as a tarball in the cache (made when missing)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(" ".join((SUITE, *PACKAGES)).encode()).hexdigest()[:12]
    tarball = CACHE / f"debian-{SUITE}-{key}.tar"
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one debootstrap, however many runs wait for it
        if not tarball.exists():
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                root = Path(tmp) / "root"
                run(
                    [
                        "debootstrap",
                        "--variant=minbase",
                        f"--include={','.join(PACKAGES)}",
                        SUITE,
                        str(root),
                        MIRROR,
                    ],
                    timeout=1800,
                )
                run(["tar", "-C", str(root), "-cf", f"{tmp}/root.tar", "."])
                os.replace(f"{tmp}/root.tar", tarball)
            for stale in CACHE.glob(f"debian-{SUITE}-*.tar"):  # made for another package list
                if stale != tarball:
                    stale.unlink()
    return tarball


def unpack_root(tarball: Path, dest: Path) -> Path:
    """The root at ``dest``, given the host's CA certificates and pip configuration so
    that pip inside reaches the package index as the host's pip does."""
    dest.mkdir(parents=True)
    run(["tar", "-C", str(dest), "--numeric-owner", "-xf", str(tarball)])
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", dest / "etc/ssl/certs/ca-certificates.crt")
    if Path("/etc/pip.conf").is_file():
        shutil.copy("/etc/pip.conf", dest / "etc/pip.conf")
    return dest


def copy_checkout(dest: Path) -> None:
    """The working tree as a user's checkout (no venv, git or caches)."""
    skip = shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"
    )
    shutil.copytree(ROOT, dest, ignore=skip)


def readme_block(heading: str) -> list[str]:
    """The command lines of the first ```sh block after ``heading`` in README.md."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index(f"\n{heading}\n") :]
    block = after[after.index("```sh\n") + 6 :]
    return [line for line in block[: block.index("```")].splitlines() if line.strip()]


# ----------------------------------------------------------------------------- systemd-nspawn


@dataclass
class Machine:
    """A booted container; commands run in it through ``nsenter`` into its PID 1."""

    root: Path
    pid1: int

    def run(
        self, *argv: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        environ = [f"{k}={v}" for k, v in {"PATH": PATH, "HOME": "/root", **(env or {})}.items()]
        return subprocess.run(
            ["nsenter", "-t", str(self.pid1), "-a", "--", "/usr/bin/env", "-i", *environ, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        out = self.run(*argv, env=env, timeout=timeout)
        assert out.returncode == 0, (
            f"{' '.join(argv)}: exit {out.returncode}\n{out.stdout}{out.stderr}"
        )
        return out.stdout

    def sh(self, script: str, timeout: float = 600) -> str:
        return self.ok("sh", "-ec", script, timeout=timeout)

    def show(self, unit: str, prop: str) -> str:
        return self.ok("systemctl", "show", "-p", prop, "--value", unit).strip()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in task.read_text().split()]
    return found


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _pid1_of(nspawn: int) -> int | None:
    todo = _children(nspawn)
    while todo:
        pid = todo.pop()
        if _comm(pid) == "systemd":
            return pid
        todo += _children(pid)
    return None


def _cgroup_leftovers() -> set[Path]:
    roots = [Path("/sys/fs/cgroup"), *Path("/sys/fs/cgroup").iterdir()]
    return {r / n for r in roots for n in CGROUP_LEFTOVERS if (r / n).is_dir()}


def _remove_cgroup(path: Path) -> None:
    for dirpath, _, _ in sorted(os.walk(path), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


@contextlib.contextmanager
def booted(root: Path, log: Path, binds: list[str]) -> Iterator[Machine]:
    """``root`` booted by systemd-nspawn (host network); powered off and cleaned after."""
    before = _cgroup_leftovers()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                "systemd-nspawn",
                "--register=no",  # the host's PID 1 is not systemd: no machined to tell
                "--keep-unit",
                "--console=passive",
                "--machine=ddnsd-system",
                *[f"--bind={b}" for b in binds],
                "-D",
                str(root),
                "-b",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    pid1 = 0
    try:
        pid1 = wait_for("systemd to start in the container", lambda: _pid1_of(proc.pid), 60)
        machine = Machine(root, pid1)

        def booted_up() -> bool:
            # Before PID 1 opens its socket this fails at once; then --wait waits for boot.
            out = machine.run("systemctl", "is-system-running", "--wait", timeout=120)
            return out.stdout.strip() in ("running", "degraded")

        wait_for("the boot to finish", booted_up, 120)
        yield machine
    finally:
        stop(proc)  # SIGTERM: nspawn asks the container's systemd to power off
        if pid1 and _comm(pid1) == "systemd":  # nspawn was killed before its container
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid1, signal.SIGKILL)
                wait_for("the container to end", lambda: _comm(pid1) is None, 30)
        for path in _cgroup_leftovers() - before:
            _remove_cgroup(path)


# ----------------------------------------------------------------------------- Docker


def docker(*argv: str, timeout: float = 600) -> str:
    return run([DOCKER, *argv], timeout=timeout, env={**os.environ, "DOCKER_BUILDKIT": "1"})


def _docker_up() -> bool:
    return (
        subprocess.run([DOCKER, "info"], capture_output=True, timeout=30, check=False).returncode
        == 0
    )


def _forward_policy() -> str:
    first = run(["iptables", "-S", "FORWARD"]).splitlines()[0]  # "-P FORWARD ACCEPT"
    return first.split()[-1]


@contextlib.contextmanager
def docker_engine(log: Path) -> Iterator[None]:
    """Docker's engine: the running one, else a dockerd of ours, stopped afterwards with
    the host put back (FORWARD policy, ip_forward, docker0, the netns mount)."""
    if _docker_up():
        yield
        return
    policy = _forward_policy()
    ip_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    had_bridge = Path("/sys/class/net/docker0").exists()
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["dockerd"], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for("dockerd to answer", lambda: proc.poll() is not None or _docker_up(), 120)
        assert proc.poll() is None, f"dockerd exited {proc.returncode}:\n{log.read_text()}"
        yield
    finally:
        stop(proc)
        run(["iptables", "-P", "FORWARD", policy])
        Path("/proc/sys/net/ipv4/ip_forward").write_text(ip_forward)
        if not had_bridge and Path("/sys/class/net/docker0").exists():
            run(["ip", "link", "delete", "docker0"])
        for mount in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            point = mount.split()[4]
            if point.startswith(("/run/docker/", "/var/run/docker/")):
                subprocess.run(["umount", point], capture_output=True, check=False)


def from_images(dockerfile: Path) -> set[str]:
    """The external images the Dockerfile's FROM lines name (stage names excluded)."""
    stages: set[str] = set()
    images: set[str] = set()
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if words[:1] == ["FROM"]:
            image = next(w for w in words[1:] if not w.startswith("--"))
            if image not in stages:
                images.add(image)
            if len(words) >= 4 and words[-2].upper() == "AS":
                stages.add(words[-1])
    return images


def make_base_image(tarball: Path, tag: str, workdir: Path) -> None:
    """The Debian root as Docker image ``tag``, standing in for python:*-slim-bookworm:
    ``python`` and ``pip`` in /usr/local/bin (a venv of Debian's python3 at /usr/local)."""
    root = unpack_root(tarball, workdir / "base")
    run(["chroot", str(root), "/usr/bin/python3", "-m", "venv", "/usr/local"])
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    try:
        run([DOCKER, "import", "-", tag], stdin=tar.stdout)
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait(timeout=60)
    shutil.rmtree(root)


def container_state(name: str) -> dict[str, object]:
    return dict(json.loads(docker("inspect", "--format", "{{json .State}}", name)))
