"""What the emulated account says about its domains: tags, nameservers, contacts,
branding, actions, and the JSON shapes and links TransIP documents for them.

* ``tags``: the documented custom tags of a domain; set at start (``EmulatorConfig.tags``)
  or by ``PUT /v6/domains/{domain}`` (the documented way), and ``GET /v6/domains?tags=a,b``
  lists the domains carrying any of them (the documentation does not say whether several
  tags mean any or all; the emulator's choice).
* Nameservers are the emulator's own (``ns0``/``ns1`` of the zone, glued to its DNS
  listener), as its authoritative DNS server answers them; contacts and branding are the
  documentation's example data; no domain action is ever running.
* Links (``_links`` of a domain, paging links) start with the scheme and ``Host`` of the
  request, as a client reached the emulator, not the address it listens on.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit

from ddnsd.emulator.httpserver import ApiRequest, error

_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")

DOMAIN_LINKS = ("self", "branding", "contacts", "dns", "nameservers", "actions")
CONTACT_TYPES = ("registrant", "administrative", "technical")
BRANDING = {
    "companyName": "Example B.V.",
    "supportEmail": "support@example.com",
    "companyUrl": "www.example.com",
    "termsOfUsageUrl": "www.example.com/terms",
    "bannerLine1": "Example B.V.",
    "bannerLine2": "Example",
    "bannerLine3": "http://www.example.com/products",
}


class DomainTags:
    """The custom tags of each domain; thread-safe. :meth:`reset` restores the start."""

    def __init__(self, start: dict[str, list[str]] | None = None) -> None:
        self._start = {d.lower().rstrip("."): list(t) for d, t in (start or {}).items()}
        self._lock = threading.Lock()
        self._tags: dict[str, list[str]] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._tags = {d: list(t) for d, t in self._start.items()}

    def get(self, domain: str) -> list[str]:
        with self._lock:
            return list(self._tags.get(domain, []))

    def set(self, domain: str, tags: list[str]) -> None:
        with self._lock:
            self._tags[domain] = list(tags)


def tags_from_json(domain: Any) -> list[str] | None:
    """The ``tags`` of a ``PUT /domains/{d}`` body's domain object (None: not given); 406."""
    if not isinstance(domain, dict):
        raise error(406, "Missing required parameter 'domain'")
    tags = domain.get("tags")
    if tags is None:
        return None
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise error(406, "Parameter 'domain.tags' must be a list of tags")
    return [t.strip() for t in tags]


def wanted_tags(request: ApiRequest) -> set[str]:
    """``?tags=a,b`` of a domain list request."""
    return {t.strip() for t in request.query.get("tags", "").split(",") if t.strip()}


def public_base(base_url: str, request: ApiRequest) -> str:
    """The emulator's ``base_url`` as this request reached it (its ``Host`` header)."""
    host = (request.headers.get("Host") or "").strip()
    if not _HOST.match(host):
        return base_url
    return f"{urlsplit(base_url).scheme}://{host}"


def domain_links(base: str, domain: str) -> list[dict[str, str]]:
    """The documented ``_links`` of a domain (self, branding, contacts, dns, ...)."""
    self_link = f"{base}/v6/domains/{domain}"
    return [
        {"rel": rel, "link": self_link if rel == "self" else f"{self_link}/{rel}"}
        for rel in DOMAIN_LINKS
    ]


def domain_json(domain: str, tags: list[str], ns_host: str, include: set[str]) -> dict[str, Any]:
    """A ``domain`` object; ``include`` may add ``nameservers`` (``ns_host``) and ``contacts``."""
    out: dict[str, Any] = {
        "name": domain,
        "authCode": "emulated-" + domain,
        "isTransferLocked": False,
        "registrationDate": "2020-01-01",
        "renewalDate": "2030-01-01",
        "isWhitelabel": False,
        "cancellationDate": None,
        "cancellationStatus": None,
        "isDnsOnly": False,
        "tags": tags,
        "canEditDns": True,
        "hasAutoDns": False,
        "hasDnsSec": False,
        "status": "registered",
    }
    if "nameservers" in include:
        out["nameservers"] = nameservers_json(ns_host, domain)
    if "contacts" in include:
        out["contacts"] = contacts_json(domain)
    return out


def nameservers_json(ns_host: str, domain: str) -> list[dict[str, str]]:
    """The zone's nameservers, glued to the emulator's DNS listener at ``ns_host``."""
    v6 = ":" in ns_host
    return [
        {"hostname": f"{ns}.{domain}", "ipv4": "" if v6 else ns_host, "ipv6": ns_host if v6 else ""}
        for ns in ("ns0", "ns1")
    ]


def contacts_json(domain: str) -> list[dict[str, str]]:
    """The documentation's example contact as owner, administrative and technical contact."""
    return [
        {
            "type": kind,
            "firstName": "John",
            "lastName": "Doe",
            "companyName": "Example B.V.",
            "companyKvk": "83057825",
            "companyType": "BV",
            "street": "Easy street",
            "number": "12",
            "postalCode": "1337 XD",
            "city": "Leiden",
            "phoneNumber": "+31 715241919",
            "faxNumber": "+31 715241919",
            "email": f"hostmaster@{domain}",
            "country": "nl",
        }
        for kind in CONTACT_TYPES
    ]


def action_json() -> dict[str, Any]:
    """The current domain action: none is ever running (``name`` null, as documented)."""
    return {"name": None, "message": "", "hasFailed": False}
