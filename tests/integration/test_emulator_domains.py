"""The emulator's domain resources as TransIP documents them: tags, ``_links``, nameservers,
contacts, and links built from the request's ``Host`` (over a real socket)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

DOMAINS = ["a.test", "b.test", "c.test"]
CONTACT_KEYS = {
    "type",
    "firstName",
    "lastName",
    "companyName",
    "companyKvk",
    "companyType",
    "street",
    "number",
    "postalCode",
    "city",
    "phoneNumber",
    "faxNumber",
    "email",
    "country",
}


@pytest.fixture
def emu(emulator_factory: Any) -> Any:
    return emulator_factory(domains=DOMAINS)


@pytest.fixture
def tagged(emulator_factory: Any) -> Any:
    return emulator_factory(domains=DOMAINS, tags={"a.test": ["home"], "c.test": ["home", "work"]})


@pytest.fixture
def token(emu: Any) -> str:
    return str(emu.token())


def get(emu: Any, token: str, path: str, host: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if host:
        headers["Host"] = host
    return requests.get(emu.api_url + path, headers=headers, timeout=10)


def names(emu: Any, token: str, query: str) -> list[str]:
    r = get(emu, token, "/domains" + query)
    assert r.status_code == 200, r.text
    return [d["name"] for d in r.json()["domains"]]


def test_domains_are_filtered_by_tag(tagged: Any) -> None:
    emu, token = tagged, tagged.token()
    assert names(emu, token, "") == DOMAINS
    assert names(emu, token, "?tags=home") == ["a.test", "c.test"]
    assert names(emu, token, "?tags=work") == ["c.test"]
    assert names(emu, token, "?tags=work,nope") == ["c.test"]
    assert names(emu, token, "?tags=nope") == []
    tags = {d["name"]: d["tags"] for d in get(emu, token, "/domains").json()["domains"]}
    assert tags == {"a.test": ["home"], "b.test": [], "c.test": ["home", "work"]}
    # a paged, filtered list links its pages with the filter
    r = get(emu, token, "/domains?tags=home&pageSize=1", host="proxy.example")
    assert r.json()["_links"]["pages"][0] == {
        "rel": "next",
        "link": "http://proxy.example/v6/domains?tags=home&pageSize=1&page=2",
    }
    # ... and with every other parameter it was asked with (a client follows "next" as is)
    r = get(emu, token, "/domains?include=nameservers&tags=home,work&pageSize=1", host="p.test")
    assert r.json()["_links"]["pages"][0] == {
        "rel": "next",
        "link": "http://p.test/v6/domains?include=nameservers&tags=home,work&pageSize=1&page=2",
    }


def test_tags_are_changed_by_updating_the_domain(tagged: Any) -> None:
    emu, token = tagged, tagged.token()

    def put(body: Any, query: str = "") -> requests.Response:
        return requests.put(
            f"{emu.api_url}/domains/b.test{query}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    assert put({"domain": {"name": "b.test", "tags": ["work"]}}, "?test=1").status_code == 204
    assert names(emu, token, "?tags=work") == ["c.test"]  # test mode: validated, not applied
    assert put({"domain": {"name": "b.test", "tags": ["work"]}}).status_code == 204
    assert names(emu, token, "?tags=work") == ["b.test", "c.test"]
    r = put({"domain": {"tags": "work"}})
    assert r.status_code == 406
    assert r.json() == {"error": "Parameter 'domain.tags' must be a list of tags"}
    emu.reset()
    assert names(emu, token, "?tags=work") == ["c.test"]


def test_a_domain_carries_the_documented_links_from_the_requests_host(emu: Any, token: str) -> None:
    r = get(emu, token, "/domains/a.test", host="transip.example:8443")
    assert r.status_code == 200
    base = "http://transip.example:8443/v6/domains/a.test"
    assert r.json()["_links"] == [
        {"rel": "self", "link": base},
        {"rel": "branding", "link": f"{base}/branding"},
        {"rel": "contacts", "link": f"{base}/contacts"},
        {"rel": "dns", "link": f"{base}/dns"},
        {"rel": "nameservers", "link": f"{base}/nameservers"},
        {"rel": "actions", "link": f"{base}/actions"},
    ]
    # every link answers (followed on the address the emulator really listens on)
    for link in r.json()["_links"]:
        path = link["link"].removeprefix("http://transip.example:8443/v6")
        assert get(emu, token, path).status_code == 200, link


def test_nameservers_contacts_branding_and_actions_answer_as_documented(
    emu: Any, token: str
) -> None:
    host, _ = emu.dns_address
    assert get(emu, token, "/domains/a.test/nameservers").json() == {
        "nameservers": [
            {"hostname": "ns0.a.test", "ipv4": host, "ipv6": ""},
            {"hostname": "ns1.a.test", "ipv4": host, "ipv6": ""},
        ]
    }
    contacts = get(emu, token, "/domains/a.test/contacts").json()["contacts"]
    assert [c["type"] for c in contacts] == ["registrant", "administrative", "technical"]
    assert all(set(c) == CONTACT_KEYS for c in contacts)
    included = get(emu, token, "/domains/a.test?include=contacts").json()["domain"]["contacts"]
    assert included == contacts
    branding = get(emu, token, "/domains/a.test/branding").json()["branding"]
    assert set(branding) == {
        "companyName",
        "supportEmail",
        "companyUrl",
        "termsOfUsageUrl",
        "bannerLine1",
        "bannerLine2",
        "bannerLine3",
    }
    assert get(emu, token, "/domains/a.test/actions").json() == {
        "action": {"name": None, "message": "", "hasFailed": False}
    }


@pytest.mark.parametrize("resource", ["nameservers", "contacts", "branding", "actions"])
@pytest.mark.parametrize(
    ("domain", "status", "message"),
    [
        ("x.test", 404, "Domain with name 'x.test' not found"),
        ("power-ranger$.nl", 406, "This is not a valid domain name: 'power-ranger$.nl'"),
    ],
)
def test_domain_resources_refuse_unknown_and_invalid_domains(
    emu: Any, token: str, resource: str, domain: str, status: int, message: str
) -> None:
    r = get(emu, token, f"/domains/{domain}/{resource}")
    assert (r.status_code, r.json()) == (status, {"error": message})


def test_paging_links_use_the_requests_host(emu: Any, token: str) -> None:
    r = get(emu, token, "/domains?pageSize=2", host="proxy.example")
    assert r.json()["_links"] == {
        "pages": [
            {"rel": "next", "link": "http://proxy.example/v6/domains?pageSize=2&page=2"},
            {"rel": "last", "link": "http://proxy.example/v6/domains?pageSize=2&page=2"},
        ]
    }
    r = get(emu, token, "/domains/a.test/dns?pageSize=1", host="[::1]:9000")
    assert r.json()["_links"]["pages"][0]["link"].startswith(
        "http://[::1]:9000/v6/domains/a.test/dns?pageSize=1&page=2"
    )
