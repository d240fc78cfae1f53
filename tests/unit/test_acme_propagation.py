"""ddnsd.acme.propagation.wait_for_txt with a fake clock and a fake query (pure logic)."""

from __future__ import annotations

import logging

import pytest

from ddnsd.acme.propagation import wait_for_txt
from ddnsd.authdns import Nameserver
from ddnsd.errors import DdnsdError, PropagationTimeout

FQDN = "_acme-challenge.example.test"
VALUE = "the-value"
NS0 = Nameserver("ns0.example.test (127.0.0.1)", "127.0.0.1", 53)
NS1 = Nameserver("ns1.example.test (127.0.0.2)", "127.0.0.2", 53)


class World:
    """A fake clock plus nameservers that start serving the value at given times.

    ``ready[label]`` = time from which the server serves the value (None: never);
    ``broken[label]`` = (from, until): the server fails to answer in that window.
    """

    def __init__(
        self,
        ready: dict[str, float | None],
        broken: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self.now = 0.0
        self.ready = ready
        self.broken = broken or {}
        self.queries: list[tuple[float, str]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    def query(self, server: Nameserver, fqdn: str, rdtype: str) -> list[str]:
        assert (fqdn, rdtype) == (FQDN, "TXT")
        self.queries.append((self.now, server.label))
        window = self.broken.get(server.label)
        if window and window[0] <= self.now < window[1]:
            raise DdnsdError(f"nameserver {server} did not answer for {fqdn} TXT: timed out")
        at = self.ready[server.label]
        return ["other-value", VALUE] if at is not None and self.now >= at else ["other-value"]


def run(world: World, servers: list[Nameserver], timeout: float = 600) -> float:
    return wait_for_txt(
        FQDN,
        VALUE,
        servers,
        timeout=timeout,
        interval=1.0,
        query=world.query,
        sleep=world.sleep,
        clock=world.clock,
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ddnsd.acme.propagation"]


@pytest.mark.parametrize(
    ("ready", "expected"),
    [
        pytest.param(
            {NS0.label: 0.0, NS1.label: 0.0},
            [
                f"{NS0.label}: serves {FQDN} TXT after 0.0 s",
                f"{NS1.label}: serves {FQDN} TXT after 0.0 s",
            ],
            id="both-at-once",
        ),
        pytest.param(
            {NS0.label: 0.0, NS1.label: 3.0},
            [
                f"{NS0.label}: serves {FQDN} TXT after 0.0 s",
                f"{NS1.label}: waiting for {FQDN} TXT 'the-value'",
                f"{NS1.label}: serves {FQDN} TXT after 3.0 s",
            ],
            id="one-lags-3s",
        ),
        pytest.param(
            {NS0.label: 5.0, NS1.label: 2.0},
            [
                f"{NS0.label}: waiting for {FQDN} TXT 'the-value'",
                f"{NS1.label}: waiting for {FQDN} TXT 'the-value'",
                f"{NS1.label}: serves {FQDN} TXT after 2.0 s",
                f"{NS0.label}: serves {FQDN} TXT after 5.0 s",
            ],
            id="both-lag-waiting-logged-once",
        ),
    ],
)
def test_states_are_logged_as_they_change(
    caplog: pytest.LogCaptureFixture, ready: dict[str, float | None], expected: list[str]
) -> None:
    caplog.set_level(logging.INFO, "ddnsd.acme.propagation")
    world = World(ready)
    took = run(world, [NS0, NS1])
    assert messages(caplog) == expected
    assert took == max(v for v in ready.values() if v is not None)


def test_a_server_that_serves_is_not_asked_again() -> None:
    world = World({NS0.label: 0.0, NS1.label: 4.0})
    run(world, [NS0, NS1])
    assert [label for _, label in world.queries].count(NS0.label) == 1
    assert [label for _, label in world.queries].count(NS1.label) == 5


def test_timeout_names_only_the_lagging_servers() -> None:
    world = World({NS0.label: 1.0, NS1.label: None})
    with pytest.raises(PropagationTimeout) as info:
        run(world, [NS0, NS1], timeout=10)
    assert info.value.lagging == [NS1.label]
    assert str(info.value) == (
        f"{FQDN} TXT was not served by {NS1.label} after 10 s; check that these are the "
        "zone's nameservers, or raise acme.propagation_timeout"
    )
    assert world.now == 10.0  # gave up at the deadline, not a poll interval later


def test_unanswering_server_is_logged_once_and_waited_for(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "ddnsd.acme.propagation")
    world = World({NS0.label: 0.0}, broken={NS0.label: (0.0, 2.5)})
    assert run(world, [NS0]) == 3.0
    assert messages(caplog) == [
        f"{NS0.label}: no answer yet (nameserver {NS0.label} did not answer for {FQDN} TXT: "
        "timed out); retrying",
        f"{NS0.label}: serves {FQDN} TXT after 3.0 s",
    ]


def test_server_never_answering_times_out_as_lagging() -> None:
    world = World({NS0.label: 0.0}, broken={NS0.label: (0.0, 1e9)})
    with pytest.raises(PropagationTimeout) as info:
        run(world, [NS0], timeout=5)
    assert info.value.lagging == [NS0.label]


def test_no_servers_is_an_error() -> None:
    world = World({})
    with pytest.raises(DdnsdError, match="no nameserver to check"):
        run(world, [])
