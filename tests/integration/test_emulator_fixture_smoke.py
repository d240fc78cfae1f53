import requests

from ddnsd.model import DnsEntry


def test_fixture_smoke(emulator):
    tok = emulator.token()
    r = requests.get(emulator.api_url + "/api-test", headers={"Authorization": "Bearer " + tok})
    assert r.json() == {"ping": "pong"}
    emulator.seed_entry("example.test", DnsEntry("x", 60, "TXT", "a"))
    assert DnsEntry("x", 60, "TXT", "a") in emulator.entries("example.test")
    assert emulator.request_count() == 2
    assert emulator.request_count("GET", "/v6/api-test") == 1
