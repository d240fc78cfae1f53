"""dyndns2 answers decided from the query alone: ``ddnsd.web.dyndns.answer``, as a table."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ddnsd.config.runtime import DyndnsEndpoint
from ddnsd.errors import DdnsdError, TransipServerError
from ddnsd.web.dyndns import answer

HOME = "home.example.test"
NAS = "nas.example.test"
ENDPOINT = DyndnsEndpoint("router", "pw", frozenset({HOME, NAS}))


@dataclass
class Push:
    """The push store's contract: True for news, False when known; raises what it is given."""

    outcomes: dict[str, bool | Exception] = field(default_factory=dict)  # address -> outcome
    calls: list[tuple[int, str, str]] = field(default_factory=list)

    def __call__(self, family: int, address: str, hostname: str) -> bool:
        self.calls.append((family, address, hostname))
        outcome = self.outcomes.get(address, True)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@dataclass(frozen=True)
class Case:
    query: str
    lines: list[str]
    status: int = 200
    calls: list[tuple[int, str, str]] = field(default_factory=list)
    client: str = "192.0.2.50"
    outcomes: dict[str, bool | Exception] = field(default_factory=dict)


V4, V6 = "198.51.100.7", "2001:db8:1::7"

CASES = {
    "new-ipv4/good": Case(f"hostname={HOME}&myip={V4}", [f"good {V4}"], calls=[(4, V4, HOME)]),
    "known-ipv4/nochg": Case(
        f"hostname={HOME}&myip={V4}", [f"nochg {V4}"], calls=[(4, V4, HOME)], outcomes={V4: False}
    ),
    "ipv6/good": Case(f"hostname={HOME}&myip={V6}", [f"good {V6}"], calls=[(6, V6, HOME)]),
    "ipv6-long-form/canonical": Case(
        f"hostname={HOME}&myip=2001:0db8:0001:0000:0000:0000:0000:0007",
        [f"good {V6}"],
        calls=[(6, V6, HOME)],
    ),
    "both-families-in-myip/family-order": Case(
        f"hostname={HOME}&myip={V6},{V4}",
        [f"good {V4},{V6}"],
        calls=[(4, V4, HOME), (6, V6, HOME)],
    ),
    "myipv6-parameter": Case(
        f"hostname={HOME}&myip={V4}&myipv6={V6}",
        [f"good {V4},{V6}"],
        calls=[(4, V4, HOME), (6, V6, HOME)],
    ),
    "one-family-news/good": Case(
        f"hostname={HOME}&myip={V4},{V6}",
        [f"good {V4},{V6}"],
        calls=[(4, V4, HOME), (6, V6, HOME)],
        outcomes={V4: False},
    ),
    "same-address-twice/one-push": Case(
        f"hostname={HOME}&myip={V4},{V4}", [f"good {V4}"], calls=[(4, V4, HOME)]
    ),
    "two-hosts/one-line-each": Case(
        f"hostname={HOME},{NAS}&myip={V4}",
        [f"good {V4}", f"good {V4}"],
        calls=[(4, V4, HOME), (4, V4, NAS)],
    ),
    "hostname-case-dot": Case(
        f"hostname=HOME.Example.TEST.&myip={V4}", [f"good {V4}"], calls=[(4, V4, HOME)]
    ),
    "hostname-blanks/notfqdn": Case(f"hostname=%20HOME.Example.TEST.%20&myip={V4}", ["notfqdn"]),
    "no-myip/client-address": Case(
        f"hostname={HOME}", [f"good {V4}"], calls=[(4, V4, HOME)], client=V4
    ),
    "no-myip/client-unknown/abuse": Case(f"hostname={HOME}", ["abuse"], client="-"),
    "unknown-host/nohost": Case(f"hostname=www.example.test&myip={V4}", ["nohost"]),
    "mixed-known-unknown": Case(
        f"hostname=www.example.test,{HOME}&myip={V4}",
        ["nohost", f"good {V4}"],
        calls=[(4, V4, HOME)],
    ),
    "no-hostname/notfqdn": Case(f"myip={V4}", ["notfqdn"]),
    "only-commas/notfqdn": Case("hostname=,,,&myip=,,,", ["notfqdn"]),
    "single-label/notfqdn": Case(f"hostname=home&myip={V4}", ["notfqdn"]),
    "space-inside/notfqdn": Case(f"hostname=ho%20me.example.test&myip={V4}", ["notfqdn"]),
    "label-too-long/notfqdn": Case(f"hostname={'a' * 64}.example.test&myip={V4}", ["notfqdn"]),
    "twenty-hosts/answered": Case(
        "hostname=" + ",".join(f"h{i}.example.test" for i in range(20)) + f"&myip={V4}",
        ["nohost"] * 20,
    ),
    "twenty-one-hosts/numhost": Case(
        "hostname=" + ",".join(f"h{i}.example.test" for i in range(21)) + f"&myip={V4}",
        ["numhost"],
    ),
    "too-many-fields/badagent": Case("&".join(f"f{i}=x" for i in range(65)), ["badagent"], 400),
    "not-an-ip/abuse": Case(f"hostname={HOME}&myip=%3Cipaddr%3E", ["abuse"]),
    "two-ipv4/abuse": Case(f"hostname={HOME}&myip={V4},198.51.100.8", ["abuse"]),
    "refused-address/abuse": Case(
        f"hostname={HOME}&myip=192.168.1.10",
        ["abuse"],
        calls=[(4, "192.168.1.10", HOME)],
        outcomes={"192.168.1.10": ValueError("a private address")},
    ),
    "second-family-refused/abuse": Case(
        f"hostname={HOME}&myip={V4},fd00::7",
        ["abuse"],
        calls=[(4, V4, HOME), (6, "fd00::7", HOME)],
        outcomes={"fd00::7": ValueError("a private address")},
    ),
    "transip-failed/911-502": Case(
        f"hostname={HOME}&myip={V4}",
        ["911"],
        502,
        calls=[(4, V4, HOME)],
        outcomes={V4: TransipServerError(500, "Internal error")},
    ),
    "ddnsd-failed/911-503": Case(
        f"hostname={HOME}&myip={V4}",
        ["911"],
        503,
        calls=[(4, V4, HOME)],
        outcomes={V4: DdnsdError("detection failed")},
    ),
    "failure-beside-nohost/status-of-failure": Case(
        f"hostname=www.example.test,{HOME}&myip={V4}",
        ["nohost", "911"],
        502,
        calls=[(4, V4, HOME)],
        outcomes={V4: TransipServerError(500, "Internal error")},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_answer(case: Case) -> None:
    push = Push(dict(case.outcomes))
    assert answer(case.query, case.client, ENDPOINT, push) == (case.lines, case.status)
    assert push.calls == case.calls
