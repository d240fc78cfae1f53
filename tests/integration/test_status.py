"""The status page in a real browser (Debian's headless Chromium), /api/status against its
documentation, ``ddnsd status`` with and without a daemon, and no secret anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests
from daemon_support import (
    DaemonProcess,
    address_config,
    free_port,
    http_get,
    run,
    wait_for,
    write_config,
)
from status_schema import check_document

from ddnsd.demo import chromium_command


def chromium_dom(url: str) -> str:
    """The page as Chromium rendered it (``--dump-dom``)."""
    if shutil.which("chromium") is None:
        message = "chromium is not installed (scripts/install-tools.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " — CI=true, so a missing tool is a failure", pytrace=False)
        pytest.skip(message)
    with tempfile.TemporaryDirectory(prefix="ddnsd-chromium-") as profile:
        done = subprocess.run(
            chromium_command(url, Path(profile), "--dump-dom"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def api(port: int, **kw: Any) -> dict[str, Any]:
    r = requests.get(f"http://127.0.0.1:{port}/api/status", timeout=5, **kw)
    assert r.status_code == 200, r.text
    return dict(r.json())


def record_value(port: int, auth: tuple[str, str] | None = None) -> str | None:
    """The first record's value once it is in sync (None before, or while not listening)."""
    try:
        records = api(port, auth=auth)["records"]
    except OSError:
        return None
    return records[0]["value"] if records and records[0]["in_sync"] else None


def test_the_page_in_a_browser_follows_an_address_change(
    emulator: Any, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    port = free_port()
    addr, cfg = address_config(tmp_path, emulator, "203.0.113.10", http_port=port)
    daemons.append(DaemonProcess(cfg))
    wait_for(lambda: record_value(port) == "203.0.113.10", what="the record in /api/status")

    page = chromium_dom(f"http://127.0.0.1:{port}/")
    assert "home.example.test" in page and "203.0.113.10" in page
    assert "in sync" in page
    assert check_document(api(port)) == []

    addr.write_text("203.0.113.77\n")
    wait_for(lambda: record_value(port) == "203.0.113.77", what="the new address")
    page = chromium_dom(f"http://127.0.0.1:{port}/")
    assert "203.0.113.77" in page
    assert "IPv4 address 203.0.113.10 → 203.0.113.77" in page  # the history entry
    assert "home.example.test/A: 203.0.113.10 → 203.0.113.77 (PATCH)" in page
    doc = api(port)
    assert check_document(doc) == []
    assert [(t["old"], t["new"]) for t in doc["timeline"]][-1] == ("203.0.113.10", "203.0.113.77")


def test_ddnsd_status_from_the_daemon_then_from_the_state_dir(
    emulator: Any, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    port = free_port()
    addr, cfg = address_config(tmp_path, emulator, "203.0.113.20", http_port=port)
    d = DaemonProcess(cfg)
    daemons.append(d)
    wait_for(lambda: record_value(port) == "203.0.113.20", what="a round")

    live = run(["-c", str(cfg), "status"])
    assert live.returncode == 0, live.stderr
    assert live.stdout.startswith("ddnsd ") and ": in sync (in sync: 1/1 records" in live.stdout
    assert f"from the running daemon at http://127.0.0.1:{port}/api/status" in live.stdout
    assert "home.example.test  A     203.0.113.20" in live.stdout
    assert d.stop() == 0

    offline = run(["-c", str(cfg), "status"])
    assert offline.returncode == 0, offline.stderr
    assert "from the state dir" in offline.stdout and "203.0.113.20" in offline.stdout

    addr.write_text("not an address\n")
    assert run(["-c", str(cfg), "once"]).returncode == 1
    failed = run(["-c", str(cfg), "status"])
    assert failed.returncode == 1
    assert "NOT in sync" in failed.stdout and "no A address known" in failed.stdout
    as_json = run(["-c", str(cfg), "status", "--json"])
    assert as_json.returncode == 1 and '"in_sync": false' in as_json.stdout


def test_ddnsd_status_before_any_round_is_not_in_sync(emulator: Any, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", emulator, address_file=tmp_path / "a")
    done = run(["-c", str(cfg), "status"])
    assert done.returncode == 1
    assert "NOT in sync (no round yet)" in done.stdout


SECRETS = ("st4tus-pw", "hunter2pw", "s3cr3tpath", "0f1e2d3c-uuid", "dyn-pw-9")


def test_status_auth_and_no_secret_in_page_history_or_state(
    emulator: Any, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    port, closed = free_port(), free_port()
    (tmp_path / "status.pw").write_text("st4tus-pw\n")
    extra = (
        '[http.status_auth]\nusername = "me"\npassword_file = "status.pw"\n'
        '[dyndns]\nusername = "router"\npassword = "dyn-pw-9"\n'
        f'[notify]\nurls = ["json://u:hunter2pw@127.0.0.1:{closed}/s3cr3tpath"]\n'
        f'heartbeat_url = "http://127.0.0.1:{closed}/0f1e2d3c-uuid"\nevents = ["written"]\n'
    )
    addr, cfg = address_config(tmp_path, emulator, "203.0.113.30", http_port=port, extra=extra)
    d = DaemonProcess(cfg)
    daemons.append(d)
    auth = ("me", "st4tus-pw")
    wait_for(lambda: record_value(port, auth) == "203.0.113.30", what="a round")
    addr.write_text("203.0.113.31\n")
    wait_for(lambda: record_value(port, auth) == "203.0.113.31", what="a change")

    assert http_get(f"http://127.0.0.1:{port}/").status_code == 401  # loopback logs in too
    page = requests.get(f"http://127.0.0.1:{port}/", auth=auth, timeout=5)
    assert page.status_code == 200 and "203.0.113.31" in page.text
    api_text = requests.get(f"http://127.0.0.1:{port}/api/status", auth=auth, timeout=5).text
    status = run(["-c", str(cfg), "status"])  # takes the credentials from the config
    assert status.returncode == 0, status.stderr
    check = run(["-c", str(cfg), "check-config"])
    assert check.returncode == 0, check.stderr
    assert d.stop() == 0

    state = tmp_path / "state"
    texts = {
        "page": page.text,
        "api": api_text,
        "history": (state / "history.jsonl").read_text(),
        "status.json": (state / "status.json").read_text(),
        "ddnsd status": status.stdout,
        "check-config": check.stdout,
        "daemon log": d.log,
    }
    assert '"kind":"written"' in texts["history"]
    leaks = [(where, s) for where, text in texts.items() for s in SECRETS if s in text]
    assert leaks == []


def test_the_window_counts_what_other_processes_spent(
    emulator: Any, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    """The page's request window is the login's shared budget: two requests that hooks
    working in-process sent show at the daemon's next round (1 s here), although the
    daemon itself heard no answer from TransIP since."""
    port = free_port()
    acme = '[acme]\nzones = ["example.test"]\npropagation_timeout = 30\npoll_interval = 0.1\n'
    _, cfg = address_config(tmp_path, emulator, "203.0.113.30", http_port=port, extra=acme)
    daemons.append(DaemonProcess(cfg))
    wait_for(lambda: record_value(port) == "203.0.113.30", what="a round")
    window = api(port)["api"]
    assert window["limit"] == 1000 and window["used"] >= 1  # at least the daemon's /auth
    before = window["used"]

    alone = {"DDNSD_HTTP__SOCKET": ""}  # these hooks work in-process, not through the daemon
    for verb in ("present", "cleanup"):
        hook = run(["-c", str(cfg), verb, "_acme-challenge.example.test.", "v"], env=alone)
        assert hook.returncode == 0, hook.stderr

    # (>=: a read-back of the daemon's own may fall in these seconds too)
    wait_for(lambda: api(port)["api"]["used"] >= before + 2, what="the hooks' two requests")
    window = api(port)["api"]
    assert window["remaining"] == 1000 - window["used"]
    assert window["reset"] is not None
    page = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    assert " of 1000 requests used in the current 15-minute window" in page
