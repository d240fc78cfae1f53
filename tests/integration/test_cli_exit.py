"""``ddnsd`` (``cli.run``): a hook's process ends without the interpreter's teardown, but
never at the cost of what teardown guarantees: exit handlers, flushed output, threads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: A hook that ends by returning its exit code (lego's usage line), not by raising.
HOOK = ["-c", "missing.toml", "present", "one-argument"]


def run_program(tmp_path: Path, body: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    program = (
        "import atexit, sys, threading, time\n"
        f"sys.argv = ['ddnsd', *{argv!r}]\n"
        f"{body}\n"
        "from ddnsd.cli import run\n"
        "run()\n"
        "print('run() returned', file=sys.stderr)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(HOOK, id="hook"),
        pytest.param(
            ["-c", "missing.toml", *HOOK[2:3], "_acme-challenge.x.test.", "v"], id="raise"
        ),
        pytest.param(["-c", "missing.toml", "check-config"], id="other-command"),
    ],
)
def test_exit_handlers_run_and_output_is_flushed(tmp_path: Path, argv: list[str]) -> None:
    marker = tmp_path / "atexit-ran"
    body = (
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('yes'))\n"
        "sys.stdout.write('unflushed stdout')\n"  # no newline: still in the buffer
    )
    proc = run_program(tmp_path, body, argv)
    assert proc.returncode == 2, proc.stderr
    assert marker.read_text() == "yes"
    assert proc.stdout == "unflushed stdout"
    assert proc.stderr.strip().splitlines()[-1].startswith("ddnsd: ")
    assert "run() returned" not in proc.stderr


def test_a_thread_still_running_is_waited_for(tmp_path: Path) -> None:
    """A hook that left a (non-daemon) thread running exits the usual way, which waits for
    the thread; a quick exit would kill it mid-work."""
    done = tmp_path / "thread-done"
    body = (
        "def work():\n"
        "    time.sleep(0.5)\n"
        f"    open({str(done)!r}, 'w').write('done')\n"
        "threading.Thread(target=work).start()\n"
    )
    proc = run_program(tmp_path, body, HOOK)
    assert proc.returncode == 2, proc.stderr
    assert done.read_text() == "done"
