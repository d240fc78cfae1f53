"""Listen addresses (ddnsd/hostport.py): one reader for the config, the server, the emulator."""

from __future__ import annotations

import pytest

from ddnsd.hostport import local_url, parse_listen

GOOD = {
    "ipv4": ("127.0.0.1:9333", ("127.0.0.1", 9333)),
    "all-ipv4": ("0.0.0.0:9333", ("0.0.0.0", 9333)),
    "ipv6-any": ("[::]:9333", ("::", 9333)),
    "ipv6-loopback/port-0": ("[::1]:0", ("::1", 0)),
    "ipv6-normalised": ("[0:0::0001]:80", ("::1", 80)),
    "highest-port": ("127.0.0.1:65535", ("127.0.0.1", 65535)),
}


@pytest.mark.parametrize(("listen", "want"), GOOD.values(), ids=GOOD.keys())
def test_accepted(listen: str, want: tuple[str, int]) -> None:
    assert parse_listen(listen) == want


NOT_ADDRESS_PORT = " is not ADDRESS:PORT (127.0.0.1:9333, [::1]:9333)"
BAD_PORT = ": the port must be a number from 0 to 65535"
NOT_IP = (
    " is not an IP address; listen on an address of this machine "
    "(127.0.0.1:9333, [::1]:9333, or 0.0.0.0:9333 for all of them)"
)
BRACKETS = ": write IPv6 addresses in brackets ([::1]:9333) and only them"

# listen -> what follows the quoted listen address in the one sentence
BAD = {
    "no-port": ("127.0.0.1", NOT_ADDRESS_PORT),
    "bare-ipv6": ("::1:9333", NOT_ADDRESS_PORT),
    "unclosed-bracket": ("[::1:9333", NOT_ADDRESS_PORT),
    "port-too-big": ("127.0.0.1:70000", BAD_PORT),
    "port-word": ("127.0.0.1:http", BAD_PORT),
    "port-superscript": ("127.0.0.1:\u00b2", BAD_PORT),
    "port-empty": ("127.0.0.1:", BAD_PORT),
    "name": ("localhost:80", ": 'localhost'" + NOT_IP),
    "empty-host": (":9333", ": ''" + NOT_IP),
    "ipv4-in-brackets": ("[127.0.0.1]:80", BRACKETS),
}


@pytest.mark.parametrize(("listen", "reason"), BAD.values(), ids=BAD.keys())
def test_refused_with_one_sentence(listen: str, reason: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_listen(listen)
    assert str(err.value) == repr(listen) + reason


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:9333", "http://127.0.0.1:9333/readyz"),
        ("0.0.0.0:9333", "http://127.0.0.1:9333/readyz"),  # all of them: loopback is one
        ("[::]:9333", "http://[::1]:9333/readyz"),
        ("[::1]:80", "http://[::1]:80/readyz"),
        ("[2001:db8::1]:9333", "http://[2001:db8::1]:9333/readyz"),
        ("192.0.2.1:9333", "http://192.0.2.1:9333/readyz"),
    ],
)
def test_local_url_reaches_the_listener_from_this_machine(listen: str, url: str) -> None:
    assert local_url(*parse_listen(listen), "/readyz") == url
