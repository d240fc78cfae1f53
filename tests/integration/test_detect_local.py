"""file:, cmd:, static: and iface: sources on this machine (real files and processes)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from ddnsd.detect.agree import detect_agreed
from ddnsd.detect.base import Family, SourceFailed
from ddnsd.detect.sources import make_detector
from ddnsd.detect.spec import parse_source

V4, V6 = Family.V4, Family.V6


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my-ip"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_file_is_reread_on_every_call(tmp_path: Path) -> None:
    ip = tmp_path / "ip"
    ip.write_text("203.0.113.7\n")
    det = make_detector(parse_source(f"file:{ip}"), allow_private=True)
    assert det.detect(V4) == "203.0.113.7"
    ip.write_text("\n  203.0.113.8  \nold line\n")
    assert det.detect(V4) == "203.0.113.8"


FILE_FAIL = [
    ("missing", None, "does not exist"),
    ("empty", "", "is empty"),
    ("blank-lines", "\n\n  \n", "is empty"),
    ("garbage", "not an address\n", "bad answer: 'not an address' is not an IP address"),
    ("html", "<html>203.0.113.7</html>\n", "is not an IP address"),
    ("wrong-family", "2001:db8::1\n", "2001:db8::1 is an IPv6 address, not IPv4"),
]


@pytest.mark.parametrize(
    ("content", "words"), [c[1:] for c in FILE_FAIL], ids=[c[0] for c in FILE_FAIL]
)
def test_unusable_file_fails_the_source(tmp_path: Path, content: str | None, words: str) -> None:
    ip = tmp_path / "ip"
    if content is not None:
        ip.write_text(content)
    with pytest.raises(SourceFailed) as err:
        make_detector(parse_source(f"file:{ip}"), allow_private=True).detect(V4)
    assert str(err.value).startswith(f"address source 'file:{ip}' failed for IPv4: ")
    assert words in str(err.value)


def test_unreadable_file_fails_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceFailed, match=r"cannot read .* \(Is a directory\)"):
        make_detector(parse_source(f"file:{tmp_path}")).detect(V4)


def test_command_first_line_and_family_in_environment(tmp_path: Path) -> None:
    prog = script(
        tmp_path,
        'if [ "$DDNSD_FAMILY" = 6 ]; then echo 2001:db8::9; else echo 203.0.113.9; fi\n'
        "echo ignored second line\n",
    )
    det = make_detector(parse_source(f"cmd:{prog}"), allow_private=True)
    assert det.detect(V4) == "203.0.113.9"
    assert det.detect(V6) == "2001:db8::9"


def test_command_arguments_are_split_like_a_shell(tmp_path: Path) -> None:
    prog = script(tmp_path, 'echo "$2"\n')
    det = make_detector(parse_source(f"cmd:{prog} 'first arg' 203.0.113.10"), allow_private=True)
    assert det.detect(V4) == "203.0.113.10"


CMD_FAIL = [
    (
        "non-zero-exit",
        "echo 203.0.113.7; echo 'no route' >&2; exit 3\n",
        "exited with status 3: 'no route'",
    ),
    ("non-zero-silent", "exit 1\n", "the command exited with status 1"),
    ("nothing-printed", "true\n", "the command printed nothing"),
    ("garbage", "echo 'connection refused'\n", "bad answer: 'connection refused' is not an IP"),
    ("killed", "kill -9 $$\n", "the command was killed by signal 9"),
]


@pytest.mark.parametrize(("body", "words"), [c[1:] for c in CMD_FAIL], ids=[c[0] for c in CMD_FAIL])
def test_failing_command_fails_the_source(tmp_path: Path, body: str, words: str) -> None:
    prog = script(tmp_path, body)
    with pytest.raises(SourceFailed) as err:
        make_detector(parse_source(f"cmd:{prog}"), allow_private=True).detect(V4)
    assert str(err.value).startswith(f"address source 'cmd:{prog}' failed for IPv4: ")
    assert words in str(err.value)


def test_slow_command_times_out(tmp_path: Path) -> None:
    prog = script(tmp_path, "exec sleep 30\n")
    with pytest.raises(SourceFailed, match=r"did not finish within 0\.3 s"):
        make_detector(parse_source(f"cmd:{prog}"), timeout=0.3).detect(V4)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie or a vanished process counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def test_timed_out_command_takes_its_children_along(tmp_path: Path) -> None:
    """A script whose own child hangs (curl, sleep) must not leave that child running
    each round: the whole process group is killed, not only the script."""
    pidfile = tmp_path / "child.pid"
    prog = script(tmp_path, f"sleep 60 &\necho $! > {pidfile}\nwait\n")
    with pytest.raises(SourceFailed, match=r"did not finish within 0\.5 s"):
        make_detector(parse_source(f"cmd:{prog}"), timeout=0.5).detect(V4)
    child = int(pidfile.read_text())
    for _ in range(100):  # the kernel delivers SIGKILL promptly; allow a slow machine
        if not _alive(child):
            break
        time.sleep(0.05)
    assert not _alive(child), "the command's child still runs after the timeout"


def test_missing_program_fails_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceFailed, match=r"cannot run .*No such file or directory"):
        make_detector(parse_source(f"cmd:{tmp_path}/nope")).detect(V4)


def test_static_source_only_answers_for_its_family() -> None:
    det = make_detector(parse_source("static:2001:db8::5"), allow_private=True)
    assert det.detect(V6) == "2001:db8::5"
    with pytest.raises(SourceFailed, match="2001:db8::5 is an IPv6 address, not IPv4"):
        det.detect(V4)


def test_file_and_static_agree_across_a_change(tmp_path: Path) -> None:
    ip = tmp_path / "ip"
    ip.write_text("203.0.113.7\n")
    dets = [
        make_detector(parse_source(s), allow_private=True)
        for s in (f"file:{ip}", "static:203.0.113.7")
    ]
    assert detect_agreed(dets, V4, 2, timeout=5.0).address == "203.0.113.7"
    ip.write_text("203.0.113.8\n")
    result = detect_agreed(dets, V4, 2, timeout=5.0)
    assert result.address is None and result.disagreement


def test_iface_loopback_has_no_public_address() -> None:
    with pytest.raises(SourceFailed) as err:
        make_detector(parse_source("iface:lo"), allow_private=True).detect(V4)
    assert str(err.value) == (
        "address source 'iface:lo' failed for IPv4: lo has no global IPv4 address "
        "(skipped: 127.0.0.1 host scope)"
    )


def test_iface_missing_interface() -> None:
    with pytest.raises(SourceFailed, match="there is no interface 'ddnsd-none0'"):
        make_detector(parse_source("iface:ddnsd-none0")).detect(V4)
