"""``cmd:PATH [ARGS…]``: the first line a program prints is the address.

The text after ``cmd:`` is split like a shell would (``shlex``) but no shell runs it.
The program gets ``DDNSD_FAMILY=4`` or ``6`` in its environment, so one script can serve
both families. A non-zero exit, a timeout, or an unusable first line fails the source; on a
timeout the program and everything it started (its own session) are killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from ddnsd.detect.base import Family, SourceFailed, snippet
from ddnsd.detect.spec import split_command
from ddnsd.detect.validate import validate_address

MAX_OUTPUT = 4096


class CommandDetector:
    """Run a program and read the address from the first line of its output."""

    def __init__(self, command: str, *, timeout: float = 5.0, allow_private: bool = False) -> None:
        self.argv = split_command(command)
        self.source = f"cmd:{command}"
        self.timeout = timeout
        self.allow_private = allow_private

    def detect(self, family: Family) -> str:
        fam = Family(family)
        env = dict(os.environ)
        env["DDNSD_FAMILY"] = str(fam.value)
        try:
            done = _run(self.argv, env, self.timeout)
        except subprocess.TimeoutExpired:
            raise SourceFailed(
                self.source, fam, f"the command did not finish within {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise SourceFailed(
                self.source, fam, f"cannot run {self.argv[0]!r} ({exc.strerror or exc})"
            ) from None
        if done.returncode != 0:
            err = done.stderr[:MAX_OUTPUT].decode("utf-8", "replace").strip()
            said = f": {snippet(err.splitlines()[0], 120)}" if err else ""
            how = (
                f"was killed by signal {-done.returncode}"
                if done.returncode < 0
                else f"exited with status {done.returncode}"
            )
            raise SourceFailed(self.source, fam, f"the command {how}{said}")
        return first_line_address(
            self.source, fam, done.stdout, self.allow_private, "the command printed nothing"
        )


def _run(
    argv: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run`` in a session of its own: a timeout kills the whole process
    group, so a script's own children (a hanging curl) do not outlive it."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def first_line_address(
    source: str, family: Family, data: bytes, allow_private: bool, empty: str
) -> str:
    """The validated address on the first non-empty line of ``data`` or SourceFailed."""
    text = data[:MAX_OUTPUT].decode("utf-8", "replace").lstrip("\ufeff").strip()
    if not text:
        raise SourceFailed(source, family, empty)
    try:
        return validate_address(text.splitlines()[0], family, allow_private)
    except ValueError as exc:
        raise SourceFailed(source, family, f"bad answer: {exc}") from None
