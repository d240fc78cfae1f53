"""k-of-n agreement between address sources (static:/file: sources, no network)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from ddnsd.detect.agree import detect_agreed
from ddnsd.detect.base import Detector, Family, SourceFailed
from ddnsd.detect.sources import make_detector
from ddnsd.detect.spec import parse_source

V4, V6 = Family.V4, Family.V6
A, B, C = "198.51.100.1", "198.51.100.2", "198.51.100.3"
MISSING = "file:/nonexistent/ddnsd-test/ip"


def sources(*specs: str) -> list[Detector]:
    return [
        make_detector(
            parse_source(s if s.startswith("file:") else f"static:{s}"), allow_private=True
        )
        for s in specs
    ]


# (id, source specs, agree, accepted address or None, disagreement)
CASES = [
    ("one-source/agree-1/accepted", [A], 1, A, False),
    ("two-same/agree-2/accepted", [A, A], 2, A, False),
    ("two-different/agree-2/disagree", [A, B], 2, None, True),
    ("two-different/agree-1/tie-disagree", [A, B], 1, None, True),
    ("three/two-vs-one/agree-2/majority", [A, B, A], 2, A, False),
    ("three/two-vs-one/agree-1/majority", [B, A, A], 1, A, False),
    ("three/all-different/agree-1/disagree", [A, B, C], 1, None, True),
    ("three/all-different/agree-2/disagree", [A, B, C], 2, None, True),
    ("two/one-fails/agree-2/too-few", [A, MISSING], 2, None, False),
    ("two/one-fails/agree-1/fallback", [MISSING, A], 1, A, False),
    ("three/one-fails/agree-2/accepted", [A, MISSING, A], 2, A, False),
    ("all-fail/agree-1/none", [MISSING, MISSING], 1, None, False),
    ("wrong-family-counts-as-failure", [A, "2001:db8::1"], 2, None, False),
]


@pytest.mark.parametrize(
    ("specs", "agree", "want", "disagreement"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_agreement(specs: list[str], agree: int, want: str | None, disagreement: bool) -> None:
    result = detect_agreed(sources(*specs), V4, agree, timeout=10.0, wait_all=True)
    assert result.address == want
    assert result.disagreement is disagreement
    assert [r.source for r in result.reports] == [d.source for d in sources(*specs)]
    assert (result.reason == "") is (want is not None)


def test_equal_addresses_in_different_spellings_agree() -> None:
    result = detect_agreed(sources("2001:DB8::1", "2001:db8:0:0::1"), V6, 2, timeout=10.0)
    assert result.address == "2001:db8::1"


def test_disagreement_is_logged_with_what_each_source_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="ddnsd.detect"):
        result = detect_agreed(sources(A, B), V4, 2, timeout=10.0)
    assert result.address is None
    line = f"IPv4 sources disagree (static:{A} said {A}, static:{B} said {B})"
    assert line in result.reason
    assert any(line in r.getMessage() for r in caplog.records)
    assert "DNS stays unchanged" in result.reason


def test_a_failed_source_is_named_in_the_log(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    html = tmp_path / "ip"
    html.write_text("<html><body>hello</body></html>\n")
    with caplog.at_level(logging.INFO, logger="ddnsd.detect"):
        result = detect_agreed(sources(A, f"file:{html}"), V4, 1, timeout=10.0, wait_all=True)
    assert result.address == A
    failed = result.reports[1]
    assert failed.address is None
    assert failed.error is not None and "is not an IP address" in failed.error
    assert any(f"file:{html}" in r.getMessage() for r in caplog.records)


class Blocking:
    """A source that answers only when released (stands in for a hung server)."""

    source = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()

    def detect(self, family: Family) -> str:
        self.release.wait(30)
        raise SourceFailed(self.source, family, "released")


class Broken:
    """A detector with a bug: raises something other than SourceFailed."""

    source = "broken"

    def detect(self, family: Family) -> str:
        raise KeyError("oops")


def test_a_source_past_the_timeout_counts_as_failed() -> None:
    slow = Blocking()
    try:
        result = detect_agreed([*sources(A), slow], V4, 2, timeout=0.2)
    finally:
        slow.release.set()
    assert result.address is None
    assert result.reports[1].error == "no answer within 0.2 s"


def test_agreement_reached_does_not_wait_for_the_rest() -> None:
    slow = Blocking()
    try:
        result = detect_agreed([*sources(A, A), slow], V4, 2, timeout=30.0)
    finally:
        slow.release.set()
    assert result.address == A
    assert result.reports[2].error == "not waited for (agreement reached)"


def test_wait_all_waits_for_every_source() -> None:
    slow = Blocking()
    try:
        result = detect_agreed([*sources(A, A), slow], V4, 2, timeout=0.3, wait_all=True)
    finally:
        slow.release.set()
    assert result.address == A
    assert result.reports[2].error == "no answer within 0.3 s"


def test_a_detector_bug_is_a_failed_source_not_a_crash() -> None:
    result = detect_agreed([*sources(A), Broken()], V4, 1, timeout=10.0, wait_all=True)
    assert result.address == A
    assert result.reports[1].error == "KeyError: 'oops'"


BAD_AGREE = [("zero", 0, 2), ("more-than-sources", 3, 2)]


@pytest.mark.parametrize(("agree", "n"), [c[1:] for c in BAD_AGREE], ids=[c[0] for c in BAD_AGREE])
def test_impossible_agree_is_refused(agree: int, n: int) -> None:
    with pytest.raises(ValueError, match=f"agree = {agree} cannot be met by {n} IPv4 source"):
        detect_agreed(sources(*[A] * n), V4, agree, timeout=1.0)


def test_no_sources_is_refused() -> None:
    with pytest.raises(ValueError, match="no IPv6 address sources are configured"):
        detect_agreed([], V6, 1, timeout=1.0)
