"""PushStore (what the dyndns2 endpoint writes) and the ``push`` source that reads it."""

from __future__ import annotations

import re

import pytest

from ddnsd.detect.base import Family, SourceFailed
from ddnsd.detect.push import PushStore
from ddnsd.detect.sources import make_detector
from ddnsd.detect.spec import parse_source


def test_push_source_reads_the_latest_push() -> None:
    store = PushStore(clock=lambda: 1000.0)
    detector = make_detector(parse_source("push"), push_store=store)
    with pytest.raises(SourceFailed, match="no router has pushed an IPv4 address yet"):
        detector.detect(Family.V4)
    assert store.push(4, "8.8.8.8", "home.example.test") is True
    assert store.push(Family.V4, "8.8.8.8", "home.example.test") is False
    assert store.push(Family.V4, "8.8.4.4", "home.example.test") is True
    assert detector.detect(Family.V4) == "8.8.4.4"
    assert store.get(4) == ("8.8.4.4", 1000.0)
    assert store.hostname(Family.V4) == "home.example.test"
    assert store.get(Family.V6) is None


def test_families_are_kept_apart_and_canonicalised() -> None:
    store = PushStore()
    store.push(Family.V6, "2A02:A450:0::5", "home.example.test")
    store.push(Family.V4, "8.8.8.8", "home.example.test")
    assert make_detector(parse_source("push"), push_store=store).detect(Family.V6) == "2a02:a450::5"


WRONG = [
    ("v4-as-v6", Family.V6, "8.8.8.8", "8.8.8.8 is an IPv4 address, not IPv6"),
    ("v6-as-v4", Family.V4, "2a02::1", "2a02::1 is an IPv6 address, not IPv4"),
    ("garbage", Family.V4, "nochg", "'nochg' is not an IP address"),
]


@pytest.mark.parametrize(
    ("family", "text", "words"), [c[1:] for c in WRONG], ids=[c[0] for c in WRONG]
)
def test_push_refuses_what_is_not_an_address_of_the_family(
    family: Family, text: str, words: str
) -> None:
    store = PushStore()
    with pytest.raises(ValueError, match=re.escape(words)):
        store.push(family, text, "home.example.test")
    assert store.get(family) is None


def test_private_push_is_stored_but_not_used_unless_allowed() -> None:
    store = PushStore()
    store.push(Family.V4, "192.168.1.5", "home.example.test")
    with pytest.raises(
        SourceFailed, match=re.escape("the pushed address is unusable: 192.168.1.5 is in")
    ):
        make_detector(parse_source("push"), push_store=store).detect(Family.V4)
    assert (
        make_detector(parse_source("push"), push_store=store, allow_private=True).detect(Family.V4)
        == "192.168.1.5"
    )


def test_on_change_runs_only_when_the_address_changes() -> None:
    calls: list[int] = []
    store = PushStore(on_change=lambda reason: calls.append(1))
    store.push(Family.V4, "8.8.8.8", "a")
    store.push(Family.V4, "8.8.8.8", "a")
    store.push(Family.V4, "8.8.4.4", "a")
    assert len(calls) == 2


def test_a_failing_on_change_does_not_fail_the_push() -> None:
    def boom(reason: str) -> None:
        raise RuntimeError("round failed")

    store = PushStore(on_change=boom)
    assert store.push(Family.V4, "8.8.8.8", "a") is True
    assert store.get(Family.V4) is not None
