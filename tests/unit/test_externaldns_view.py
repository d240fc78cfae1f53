"""The zone view behind GET /records: read at most every ``refresh``, kept by own writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ddnsd.externaldns.view import ZoneView
from ddnsd.model import DnsEntry

A1 = DnsEntry("www", 300, "A", "192.0.2.1")
A2 = DnsEntry("www", 300, "A", "192.0.2.2")


@dataclass
class Zones:
    """A TransIP account's zones, counting the reads."""

    entries: dict[str, list[DnsEntry]]
    reads: list[str] = field(default_factory=list)

    def list_dns_entries(self, domain: str) -> list[DnsEntry]:
        self.reads.append(domain)
        return list(self.entries[domain])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("refresh", "times", "reads"),
    [
        (300, [0, 60, 120, 299], 1),
        (300, [0, 60, 300, 360], 2),
        (300, [0, 600, 1200, 1800], 4),
        (0, [0, 0, 0], 3),  # no cache: a read every time
    ],
)
def test_a_zone_is_read_at_most_every_refresh(
    refresh: float, times: list[float], reads: int
) -> None:
    zones, clock = Zones({"example.test": [A1]}), Clock()
    view = ZoneView(zones, refresh, clock)
    start = clock.now
    for t in times:
        clock.now = start + t
        assert view.entries("example.test") == [A1]
    assert len(zones.reads) == reads


def test_own_writes_update_the_view_without_a_read() -> None:
    zones, clock = Zones({"example.test": [A1]}), Clock()
    view = ZoneView(zones, 300, clock)
    view.entries("example.test")
    view.added("example.test", A2)
    assert view.entries("example.test") == [A1, A2]
    view.removed("example.test", A1)
    view.removed("example.test", A1)  # already gone: nothing happens
    assert view.entries("example.test") == [A2]
    view.patched("example.test", A2, A1)
    assert view.entries("example.test") == [A1]
    assert zones.reads == ["example.test"]


def test_a_forgotten_zone_is_read_at_its_next_use() -> None:
    zones, clock = Zones({"example.test": [A1], "other.test": []}), Clock()
    view = ZoneView(zones, 300, clock)
    view.entries("example.test")
    view.entries("other.test")
    zones.entries["example.test"] = [A1, A2]  # a write whose answer was lost landed
    view.forget("example.test")
    assert view.entries("example.test") == [A1, A2]
    assert view.entries("other.test") == []
    assert zones.reads == ["example.test", "other.test", "example.test"]
