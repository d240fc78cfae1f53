"""systemd units in systemd/: hardening score, `systemd-analyze verify`, and the daemon's
notify protocol (READY=1, STATUS=, WATCHDOG=1) over a NOTIFY_SOCKET this test owns.

No systemd runs here (PID 1 is not systemd), so the units are checked offline and the
daemon is started the way systemd would start it: same command, NOTIFY_SOCKET and
WATCHDOG_USEC in its environment. MemoryDenyWriteExecute= is reproduced with the
kernel's PR_SET_MDWE prctl, which refuses the same writable+executable mappings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ddnsd.model import DnsEntry

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
SERVICES = ["ddnsd.service", "ddnsd-once.service"]
ALL_UNITS = [*SERVICES, "ddnsd-once.timer"]
INSTALLED_PATH = "/usr/local/bin/ddnsd"
CI = os.environ.get("CI", "").lower() == "true"
# Daemon-only settings; everything else in ddnsd.service's [Service] is the sandbox,
# which ddnsd-once.service must repeat.
DAEMON_ONLY = {
    "Type",
    "NotifyAccess",
    "ExecStart",
    "ExecReload",
    "WatchdogSec",
    "Restart",
    "RestartSec",
    "TimeoutStartSec",
    "TimeoutStopSec",
    "RuntimeDirectory",
    "RuntimeDirectoryMode",
}


def tool(name: str) -> str:
    """Path of a required program; skipped when missing, except under CI=true."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        if CI:
            pytest.fail(f"{name} is not installed (scripts/install-tools.sh installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def directives(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, in order (keys may repeat)."""
    out: list[tuple[str, str, str]] = []
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(path: Path, section: str, key: str) -> list[str]:
    return [v for s, k, v in directives(path) if s == section and k == key]


# ----------------------------------------------------------------------------- offline checks


@pytest.mark.parametrize("unit", SERVICES)
def test_security_exposure_is_at_most_2(unit: str) -> None:
    analyze = tool("systemd-analyze")
    proc = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(UNITS / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = proc.stdout + proc.stderr
    # systemd 252: "→ Overall exposure level for ddnsd.service: 1.1 OK 🙂"
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) (\w+)", output)
    assert m, f"no exposure line in systemd-analyze output:\n{output}"
    exposure = float(m.group(1))
    unsafe = [line for line in output.splitlines() if line.startswith("✗")]
    assert exposure <= 2.0, f"{unit}: exposure {exposure} ({m.group(2)}):\n" + "\n".join(unsafe)


def test_units_verify_clean(tmp_path: Path) -> None:
    """`systemd-analyze verify` on copies whose ExecStart points at an existing ddnsd."""
    analyze = tool("systemd-analyze")
    installed = shutil.which("ddnsd", path=str(Path(sys.executable).parent)) or "/bin/true"
    for name in ALL_UNITS:
        text = (UNITS / name).read_text()
        (tmp_path / name).write_text(text.replace(INSTALLED_PATH, installed))
    proc = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{n}" for n in ALL_UNITS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if any(n in line for n in ALL_UNITS) or str(tmp_path) in line
    ]
    assert proc.returncode == 0 and not ours, "\n".join(ours) or proc.stderr


@pytest.mark.parametrize(
    ("unit", "key", "value"),
    [
        ("ddnsd.service", "Type", "notify"),
        ("ddnsd.service", "NotifyAccess", "main"),
        ("ddnsd.service", "ExecStart", f"{INSTALLED_PATH} run"),
        ("ddnsd.service", "ExecReload", "/bin/kill -HUP $MAINPID"),
        ("ddnsd.service", "WatchdogSec", "60"),
        ("ddnsd.service", "Restart", "on-failure"),
        ("ddnsd.service", "DynamicUser", "yes"),
        ("ddnsd.service", "StateDirectory", "ddnsd"),
        ("ddnsd.service", "RuntimeDirectory", "ddnsd"),
        ("ddnsd.service", "RuntimeDirectoryMode", "0755"),
        ("ddnsd.service", "LoadCredential", "transip.key:/etc/ddnsd/transip.key"),
        ("ddnsd.service", "ProtectSystem", "strict"),
        ("ddnsd.service", "ProtectHome", "yes"),
        ("ddnsd.service", "PrivateTmp", "yes"),
        ("ddnsd.service", "PrivateDevices", "yes"),
        ("ddnsd.service", "NoNewPrivileges", "yes"),
        ("ddnsd.service", "CapabilityBoundingSet", ""),
        ("ddnsd.service", "AmbientCapabilities", ""),
        ("ddnsd.service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX AF_NETLINK"),
        ("ddnsd.service", "SystemCallFilter", "@system-service"),
        ("ddnsd.service", "SystemCallFilter", "~@privileged @resources"),
        ("ddnsd.service", "SystemCallArchitectures", "native"),
        ("ddnsd.service", "MemoryDenyWriteExecute", "yes"),
        ("ddnsd.service", "LockPersonality", "yes"),
        ("ddnsd.service", "RestrictNamespaces", "yes"),
        ("ddnsd.service", "ProtectKernelTunables", "yes"),
        ("ddnsd.service", "ProtectKernelModules", "yes"),
        ("ddnsd.service", "ProtectKernelLogs", "yes"),
        ("ddnsd.service", "ProtectControlGroups", "yes"),
        ("ddnsd.service", "ProtectClock", "yes"),
        ("ddnsd.service", "ProtectHostname", "yes"),
        ("ddnsd.service", "RestrictRealtime", "yes"),
        ("ddnsd.service", "UMask", "0077"),
        ("ddnsd-once.service", "Type", "oneshot"),
        ("ddnsd-once.service", "ExecStart", f"{INSTALLED_PATH} once"),
        ("ddnsd-once.timer", "OnBootSec", "1min"),
        ("ddnsd-once.timer", "OnUnitActiveSec", "5min"),
        ("ddnsd-once.timer", "RandomizedDelaySec", "30s"),
        ("ddnsd-once.timer", "Persistent", "true"),
        ("ddnsd-once.timer", "Unit", "ddnsd-once.service"),
    ],
    ids=lambda v: str(v).replace("/", "_") or "empty",
)
def test_unit_sets(unit: str, key: str, value: str) -> None:
    section = "Timer" if unit.endswith(".timer") else "Service"
    assert value in values(UNITS / unit, section, key), f"{unit}: expected {key}={value}"


def test_once_service_repeats_the_daemon_sandbox() -> None:
    daemon = [(k, v) for s, k, v in directives(UNITS / "ddnsd.service") if s == "Service"]
    once = {(k, v) for s, k, v in directives(UNITS / "ddnsd-once.service") if s == "Service"}
    missing = [f"{k}={v}" for k, v in daemon if k not in DAEMON_ONLY and (k, v) not in once]
    assert not missing, f"ddnsd-once.service lacks: {', '.join(missing)}"


def test_timer_unit_exists_and_installs() -> None:
    assert (UNITS / values(UNITS / "ddnsd-once.timer", "Timer", "Unit")[0]).is_file()
    assert values(UNITS / "ddnsd-once.timer", "Install", "WantedBy") == ["timers.target"]
    assert values(UNITS / "ddnsd.service", "Install", "WantedBy") == ["multi-user.target"]


# ----------------------------------------------------------------------------- the real daemon


HOME_ENTRY = DnsEntry("home", 300, "A", "198.51.100.7")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(directory: Path, emulator: Any, listen: str, *, as_unit: bool = False) -> Path:
    """A daemon config: one A record fed by a static source, checked against the emulator.

    ``as_unit``: like the installed unit's config, with neither private_key_file nor
    [state] dir; the key comes from $CREDENTIALS_DIRECTORY, state from $STATE_DIRECTORY.
    """
    q = json.dumps
    key = "" if as_unit else f"private_key_file = {q(str(emulator.private_key_path))}"
    state = ""
    if not as_unit:
        (directory / "state").mkdir(parents=True, exist_ok=True)
        state = f"[state]\ndir = {q(str(directory / 'state'))}"
    text = f"""
[transip]
login = {q(emulator.login)}
{key}
api_url = {q(emulator.api_url)}

[[records]]
domain = "example.test"
name = "home"
type = "A"
ttl = 300

[detect]
ipv4 = ["static:198.51.100.7"]
ipv6 = []
agree = 1
allow_private = true

[schedule]
interval = "1h"
verify = "1h"
jitter = "1s"

[dns]
nameservers = [{q(emulator.dns_server)}]

[http]
listen = {q(listen)}

{state}
"""
    path = directory / "ddnsd.toml"
    path.write_text(text)
    return path


def ddnsd_exe() -> str:
    exe = shutil.which("ddnsd", path=str(Path(sys.executable).parent))
    assert exe, "ddnsd is not installed in the test venv (make test installs it)"
    return exe


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DDNSD_", "NOTIFY_"))}
    env.pop("WATCHDOG_USEC", None)
    env.pop("CREDENTIALS_DIRECTORY", None)
    env.update(extra)
    return env


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """The datagram socket systemd would own; yields (socket, path)."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(1.0)
    try:
        yield sock, path
    finally:
        sock.close()


def receive_until(
    sock: socket.socket,
    wanted: set[str],
    deadline: float,
    proc: subprocess.Popen[bytes] | None = None,
) -> list[str]:
    """Collect notify fields until every prefix in ``wanted`` arrived, the deadline passed,
    or ``proc`` exited."""
    fields: list[str] = []
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            if proc is not None and proc.poll() is not None:
                break
            continue
        fields += data.decode().splitlines()
        if all(any(f.startswith(w) for f in fields) for w in wanted):
            break
    return fields


def test_daemon_speaks_sd_notify(
    tmp_path: Path, emulator: Any, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    port = free_port()
    config = write_config(tmp_path, emulator, f"127.0.0.1:{port}")
    log = (tmp_path / "ddnsd.log").open("wb")
    proc = subprocess.Popen(
        [ddnsd_exe(), "-c", str(config), "run"],
        env=child_env(NOTIFY_SOCKET=path, WATCHDOG_USEC="2000000"),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        wanted = {"READY=1", "STATUS=", "WATCHDOG=1"}
        fields = receive_until(sock, wanted, time.monotonic() + 60, proc)
        more = receive_until(sock, {"WATCHDOG=1"}, time.monotonic() + 10, proc)
        output = (tmp_path / "ddnsd.log").read_text(errors="replace")
        assert "READY=1" in fields, f"no READY=1; got {fields}\n{output}"
        assert any(f.startswith("STATUS=") and len(f) > 7 for f in fields), fields
        assert "WATCHDOG=1" in fields + more, f"no WATCHDOG=1; got {fields + more}"
        assert "WATCHDOG=1" in more, "the watchdog stopped pinging after READY"
        # READY=1 comes after the first round: the record is in place by then.
        assert HOME_ENTRY in emulator.entries("example.test")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert r.status == 200
        hc = subprocess.run(
            [ddnsd_exe(), "-c", str(config), "healthcheck"],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert hc.returncode == 0, hc.stderr
        ready = subprocess.run(
            [ddnsd_exe(), "-c", str(config), "healthcheck", "--ready"],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert ready.returncode == 0, ready.stderr  # in sync after the first round
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        tail = receive_until(sock, {"STOPPING=1"}, time.monotonic() + 5)
        assert "STOPPING=1" in fields + more + tail
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


# What the unit's sandbox does to the process that can be reproduced without systemd:
# UMask=0077, NoNewPrivileges=yes (PR_SET_NO_NEW_PRIVS) and MemoryDenyWriteExecute=yes
# (PR_SET_MDWE, the kernel's own version of the same rule, Linux 6.3+).
UNIT_WRAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
os.umask(0o077)
for option, what in ((38, "PR_SET_NO_NEW_PRIVS"), (65, "PR_SET_MDWE")):
    if libc.prctl(option, 1, 0, 0, 0) != 0:
        sys.exit(f"{what} failed: errno {ctypes.get_errno()}")
os.execv(sys.argv[1], sys.argv[1:])
"""


def mdwe_supported() -> bool:
    """Does this kernel have PR_SET_MDWE (Linux 6.3+)? Probed in a child process."""
    probe = "import ctypes,sys; sys.exit(ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0)"
    return subprocess.run([sys.executable, "-c", probe], timeout=30).returncode == 0


def test_once_runs_like_the_unit_runs_it(tmp_path: Path, emulator: Any) -> None:
    """ddnsd-once.service's contract: key as credential, state in $STATE_DIRECTORY,
    UMask=0077, NoNewPrivileges, MemoryDenyWriteExecute (key signing, DNS, HTTP work)."""
    if not mdwe_supported():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3); cannot reproduce the unit")
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o500)
    shutil.copyfile(emulator.private_key_path, credentials / "transip.key")
    (credentials / "transip.key").chmod(0o400)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = write_config(tmp_path, emulator, "", as_unit=True)
    env = child_env(CREDENTIALS_DIRECTORY=str(credentials), STATE_DIRECTORY=str(state))
    proc = subprocess.run(
        [sys.executable, "-c", UNIT_WRAPPER, ddnsd_exe(), "-c", str(config), "once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert HOME_ENTRY in emulator.entries("example.test")
    written = list(state.rglob("*"))
    assert written, "nothing written to $STATE_DIRECTORY (token cache expected)"
    loose = [f"{p.name} {p.stat().st_mode & 0o777:o}" for p in written if p.stat().st_mode & 0o077]
    assert not loose, f"state files readable beyond the service user: {loose}"


# ----------------------------------------------------------------------------- syscall filter

STRACE_ROW = re.compile(r"^\s*\d+\.\d+\s+\d+\.\d+\s+\d+\s+\d+\s+(?:\d+\s+)?([a-z_0-9]+)$")


def syscall_set(analyze: str, group: str) -> set[str]:
    """A `systemd-analyze syscall-filter` group, nested groups expanded."""
    out = subprocess.run(
        [analyze, "syscall-filter", "--no-pager", group],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        names |= syscall_set(analyze, word) if word.startswith("@") else {word}
    return names


def unit_allowed_syscalls(analyze: str) -> set[str]:
    """What ddnsd.service's SystemCallFilter= lines leave allowed."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for value in values(UNITS / "ddnsd.service", "Service", "SystemCallFilter"):
        target = denied if value.startswith("~") else allowed
        for item in value.lstrip("~").split():
            target |= syscall_set(analyze, item) if item.startswith("@") else {item}
    return allowed - denied


def test_daemon_syscalls_stay_inside_the_units_filter(
    tmp_path: Path, emulator: Any, notify_socket: tuple[socket.socket, str]
) -> None:
    """Every syscall `ddnsd run` makes (start, round, token, HTTP, SIGHUP reload, SIGTERM)
    is allowed by SystemCallFilter=, and every socket family by RestrictAddressFamilies=,
    so the sandbox cannot break the daemon."""
    analyze = tool("systemd-analyze")
    strace = tool("strace")
    allowed = unit_allowed_syscalls(analyze)
    sock, path = notify_socket
    port = free_port()
    config = write_config(tmp_path, emulator, f"127.0.0.1:{port}")
    counts = tmp_path / "strace.txt"
    log = (tmp_path / "ddnsd.log").open("wb")
    proc = subprocess.Popen(
        [strace, "-f", "-qq", "-C", "-o", str(counts), ddnsd_exe(), "-c", str(config), "run"],
        env=child_env(NOTIFY_SOCKET=path, WATCHDOG_USEC="2000000"),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        fields = receive_until(sock, {"READY=1"}, time.monotonic() + 60, proc)
        assert "READY=1" in fields, (tmp_path / "ddnsd.log").read_text(errors="replace")
        for endpoint in ("/healthz", "/metrics"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{endpoint}", timeout=10) as r:
                assert r.status == 200
        daemon = [
            int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        ]
        assert daemon, "strace started no child"
        os.kill(daemon[0], signal.SIGHUP)
        receive_until(sock, {"STATUS="}, time.monotonic() + 10, proc)
        os.kill(daemon[0], signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, (tmp_path / "ddnsd.log").read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    used = {
        m.group(1)
        for line in counts.read_text().splitlines()
        if (m := STRACE_ROW.match(line)) and m.group(1) != "total"
    }
    assert "execve" in used and "socket" in used, counts.read_text()
    assert not used - allowed, f"syscalls outside SystemCallFilter=: {sorted(used - allowed)}"
    families = set(re.findall(r"\bsocket\((AF_\w+)", counts.read_text()))
    (restricted,) = values(UNITS / "ddnsd.service", "Service", "RestrictAddressFamilies")
    assert families and families <= set(restricted.split()), families
