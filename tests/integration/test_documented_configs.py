"""Every configuration the documentation shows works: ``check-config``, ``ip`` and ``once``.

The cases are found, not listed: ``config.example.toml`` itself, and each ```` ```toml ````
block of README.md laid over it (a README block shows the keys of one way in; the rest
comes from the example). A new block is covered as soon as it is written.

Only what leaves this machine is changed: ``api_url`` points at the emulator,
``https://`` address sources at a local echo server (plain HTTP, so
``allow_insecure_sources`` is set), ``dns:`` presets at the emulator's DNS server (a
``myip`` entry), nameservers at the emulator, files and the state dir into the test's
directory. Sources, sections and keys are otherwise used as documented.
"""

from __future__ import annotations

import re
import shutil
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from daemon_support import DualStackServer, run, text_reply

from ddnsd.model import DnsEntry

ROOT = Path(__file__).resolve().parents[2]
V4, V6 = "81.2.69.160", "2a01:7c8:aab0::160"


def documented() -> dict[str, dict[str, Any]]:
    """name → config: the example, and each README TOML block over the example."""
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    cases = {"config.example.toml": example}
    blocks = re.findall(r"^```toml\n(.*?)^```", (ROOT / "README.md").read_text(), re.M | re.S)
    for i, block in enumerate(blocks, 1):
        cases[f"README block {i}"] = overlay(example, tomllib.loads(block))
    return cases


def overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        below = out.get(key)
        out[key] = overlay(below, value) if isinstance(below, dict) else value
    return out


class Echo(BaseHTTPRequestHandler):
    """A plain-text "what is my IP" service: a fixed public address of the asking family."""

    def do_GET(self) -> None:
        v4 = self.client_address[0].startswith("::ffff:") or "." in self.client_address[0]
        text_reply(self, 200, (V4 if v4 else V6).encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    server = DualStackServer(("::", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def localize(data: dict[str, Any], tmp: Path, emulator: Any, echo_port: int) -> dict[str, Any]:
    """``data`` with everything that would leave this machine pointed at local servers."""
    data = tomllib.loads(tomli_w.dumps(data))  # a deep copy
    data["transip"]["api_url"] = emulator.api_url
    data.setdefault("dns", {})["nameservers"] = [emulator.dns_server]
    data.setdefault("state", {})["dir"] = str(tmp / "state")
    detect = data.setdefault("detect", {})
    for key, host in (("ipv4", "127.0.0.1"), ("ipv6", "[::1]")):
        detect[key] = [
            f"http://{host}:{echo_port}/"
            if s.startswith(("https://", "http://"))
            else f"dns:myip.example.test@{emulator.dns_server}"
            if s.startswith("dns:")
            else s
            for s in detect.get(key, [])
        ]
    detect["allow_insecure_sources"] = True
    for table in tables(data):
        for key, value in list(table.items()):
            if key.endswith("_file") and isinstance(value, str):
                table[key] = str(local_file(tmp, key, value, emulator))
    return data


def tables(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from tables(value)
    elif isinstance(data, list):
        for value in data:
            yield from tables(value)


def local_file(tmp: Path, key: str, value: str, emulator: Any) -> Path:
    path = tmp / "files" / Path(value).name
    path.parent.mkdir(exist_ok=True)
    if key == "private_key_file":
        shutil.copy(emulator.private_key_path, path)
        path.chmod(0o600)
    else:
        path.write_text(f"{key}-secret\n")
    return path


CASES = documented()


def test_the_readme_has_toml_blocks() -> None:
    assert len(CASES) >= 3, sorted(CASES)


@pytest.mark.parametrize("name", CASES, ids=CASES.keys())
def test_documented_config_passes_check_config_ip_and_once(
    name: str, emulator: Any, tmp_path: Path, echo_port: int
) -> None:
    for rtype, content in (("A", V4), ("AAAA", V6)):
        emulator.seed_entry("example.test", DnsEntry("myip", 300, rtype, content))
    data = localize(CASES[name], tmp_path, emulator, echo_port)
    cfg = tmp_path / "config.toml"
    cfg.write_text(tomli_w.dumps(data))
    pushed_only = all(s == "push" for s in data["detect"]["ipv4"])

    check = run(["-c", str(cfg), "check-config"])
    assert (check.returncode, check.stderr) == (0, ""), check.stderr
    assert check.stdout.startswith(f"# effective configuration from {cfg} (secrets redacted)")

    ip = run(["-c", str(cfg), "ip"])
    once = run(["-c", str(cfg), "once"])
    for out in (ip, once):
        assert "Traceback" not in out.stderr, out.stderr
    home = [e.content for e in emulator.entries("example.test") if e.name == "home"]
    if pushed_only:  # `ip` and `once` run outside the daemon, which routers push to
        assert ip.returncode == 1 and once.returncode == 1, (ip, once)
        assert "routers push to the running daemon (ddnsd run) only" in ip.stdout
        assert "no A address known this round; left unchanged" in once.stdout
        assert home == []
    else:
        assert (ip.returncode, once.returncode) == (0, 0), (ip.stdout, once.stderr)
        assert f"agreed: {V4}" in ip.stdout
        assert home == [V4]
