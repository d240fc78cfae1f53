"""external-dns endpoints ⇄ TransIP entries: pure functions, no I/O.

An endpoint is one RRset (``dnsName``, ``recordType``, every target, one TTL); at TransIP
it is one entry per target, its name relative to the zone (``@`` for the apex). The zone
of a name is the longest of the managed domains it ends in.

:func:`canonical` is what ``/adjustendpoints`` answers and what ``/records`` later reports
for the same records, so external-dns's plan converges: TTL 0 becomes the default TTL and
a lower one the minimum; CNAME/MX/NS/SRV targets lose a trailing dot (written absolute at
TransIP, which reads a target without one as relative to the zone); a TXT target loses one
pair of surrounding double quotes (external-dns's registry writes them, TransIP stores the
bare value, the registry reads both); targets are sorted and unique; ``providerSpecific``
is dropped (TransIP has none). An endpoint TransIP cannot hold (a type it lacks such as
PTR or DNAME, a ``setIdentifier``, no target, a bad name) gives a reason instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ddnsd import names
from ddnsd.acme.challenge import relative_name
from ddnsd.model import DnsEntry

MEDIA_TYPE = "application/external.dns.webhook+json;version=1"

#: The entry types TransIP has (API v6 "dnsEntry.type").
TYPES = frozenset({"A", "AAAA", "CNAME", "MX", "NS", "TXT", "SRV", "SSHFP", "TLSA", "CAA", "NAPTR"})

#: Types whose content ends in a host name: the index of that field in the content.
_NAME_FIELD = {"CNAME": 0, "NS": 0, "MX": 1, "SRV": 3}

#: The keys of ``POST /records``: external-dns ≥ 0.17 sends camelCase, older ones Go names.
_CHANGE_KEYS = (
    ("create", "Create"),
    ("updateOld", "UpdateOld"),
    ("updateNew", "UpdateNew"),
    ("delete", "Delete"),
)


class BadRequest(ValueError):
    """A body external-dns would never send (answered 400, nothing written)."""


@dataclass(frozen=True)
class Endpoint:
    """One external-dns endpoint (an RRset)."""

    dns_name: str
    record_type: str
    targets: tuple[str, ...]
    ttl: int = 0
    set_identifier: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    provider_specific: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Changes:
    create: list[Endpoint]
    update_old: list[Endpoint]
    update_new: list[Endpoint]
    delete: list[Endpoint]


@dataclass(frozen=True)
class Policy:
    """How TTLs are canonicalised (``[external_dns] min_ttl`` / ``default_ttl``)."""

    min_ttl: int = 60
    default_ttl: int = 300


# -- JSON -------------------------------------------------------------------------------


def endpoint_from_json(obj: object, where: str = "endpoint") -> Endpoint:
    """One endpoint as external-dns encodes it; BadRequest naming the field otherwise."""
    if not isinstance(obj, dict):
        raise BadRequest(f"{where} is not an object")
    name, rtype = obj.get("dnsName"), obj.get("recordType")
    if not isinstance(name, str) or not isinstance(rtype, str):
        raise BadRequest(f"{where}: dnsName and recordType must be strings")
    targets = obj.get("targets") or []
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise BadRequest(f"{where}.targets must be a list of strings")
    ttl = obj.get("recordTTL", 0)
    if ttl is None:
        ttl = 0
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
        raise BadRequest(f"{where}.recordTTL must be a whole number of seconds")
    ident = obj.get("setIdentifier") or ""
    if not isinstance(ident, str):
        raise BadRequest(f"{where}.setIdentifier must be a string")
    labels = obj.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise BadRequest(f"{where}.labels must map strings to strings")
    specific = obj.get("providerSpecific") or []
    if not isinstance(specific, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("value"), str)
        for p in specific
    ):
        raise BadRequest(f'{where}.providerSpecific must be a list of {{"name", "value"}}')
    return Endpoint(
        dns_name=name,
        record_type=rtype,
        targets=tuple(targets),
        ttl=ttl,
        set_identifier=ident,
        labels=dict(labels),
        provider_specific=tuple((p["name"], p["value"]) for p in specific),
    )


def endpoints_from_json(obj: object, where: str = "body") -> list[Endpoint]:
    if obj is None:
        return []
    if not isinstance(obj, list):
        raise BadRequest(f"{where} is not a list of endpoints")
    return [endpoint_from_json(item, f"{where}[{i}]") for i, item in enumerate(obj)]


def endpoint_to_json(ep: Endpoint) -> dict[str, Any]:
    """As external-dns encodes it: ``recordTTL`` an integer, empty optional fields left out."""
    out: dict[str, Any] = {
        "dnsName": ep.dns_name,
        "targets": list(ep.targets),
        "recordType": ep.record_type,
    }
    if ep.set_identifier:
        out["setIdentifier"] = ep.set_identifier
    if ep.ttl:
        out["recordTTL"] = ep.ttl
    if ep.labels:
        out["labels"] = dict(ep.labels)
    if ep.provider_specific:
        out["providerSpecific"] = [{"name": n, "value": v} for n, v in ep.provider_specific]
    return out


def changes_from_json(obj: object) -> Changes:
    """``plan.Changes`` in either spelling; an absent or ``null`` list is empty."""
    if not isinstance(obj, dict):
        raise BadRequest("the body must be a JSON object of changes")
    lists: list[list[Endpoint]] = []
    for camel, go in _CHANGE_KEYS:
        if camel in obj and go in obj:
            raise BadRequest(f"the body has both {camel!r} and {go!r}")
        key = camel if camel in obj else go
        lists.append(endpoints_from_json(obj.get(key), key))
    create, old, new, delete = lists
    return Changes(create, old, new, delete)


# -- canonical form ---------------------------------------------------------------------


def canonical(ep: Endpoint, policy: Policy) -> Endpoint | str:
    """``ep`` as TransIP will hold it and ``/records`` report it, or why it cannot be."""
    rtype = ep.record_type.upper()
    if rtype not in TYPES:
        return f"TransIP has no {names.shown(ep.record_type, 20)} records"
    if ep.set_identifier:
        return "TransIP has no routing policies (setIdentifier)"
    try:
        name = names.domain_name(ep.dns_name, wildcard=True)
    except ValueError as exc:
        return str(exc)
    targets = sorted({_canonical_target(rtype, t) for t in ep.targets})
    if not targets or "" in targets:
        return "it has an empty target" if targets else "it has no target"
    bad = next((t for t in targets if names.unsafe_character(t, spaces=False)), None)
    if bad is not None:
        return f"target {names.shown(bad)} contains a control character"
    ttl = policy.default_ttl if ep.ttl == 0 else max(ep.ttl, policy.min_ttl)
    return Endpoint(name, rtype, tuple(targets), ttl, "", dict(ep.labels))


def _canonical_target(rtype: str, target: str) -> str:
    target = target.strip()
    if rtype == "TXT":
        quoted = len(target) >= 2 and target[0] == target[-1] == '"'
        return target[1:-1] if quoted else target
    return _with_host(rtype, target, lambda host: host.removesuffix("."))


def _with_host(rtype: str, text: str, change: Callable[[str], str]) -> str:
    """``text`` (a target or an entry's content) with its host name field changed; as it
    is for a type without one (or a value too short to have it)."""
    index = _NAME_FIELD.get(rtype)
    fields = text.split()
    if index is None or len(fields) <= index:
        return text
    fields[index] = change(fields[index])
    return " ".join(fields)


# -- zones and entries ------------------------------------------------------------------


def entries_of(ep: Endpoint, zone: str) -> list[DnsEntry]:
    """A canonical endpoint's TransIP entries in ``zone``: one per target."""
    name = relative_name(ep.dns_name, zone)
    return [DnsEntry(name, ep.ttl, ep.record_type, _content(ep.record_type, t)) for t in ep.targets]


def _content(rtype: str, target: str) -> str:
    return _with_host(rtype, target, lambda host: host + ".")


def endpoints_of(zone: str, entries: Iterable[DnsEntry]) -> list[Endpoint]:
    """A zone's entries as endpoints: one per name and type, every target in it; a name or
    target without a trailing dot read relative to the zone, as TransIP does."""
    sets: dict[tuple[str, str], tuple[int, set[str]]] = {}
    for e in entries:
        if e.type not in TYPES:
            continue
        fqdn = zone if e.name == "@" else f"{e.name}.{zone}".lower()
        targets = sets.setdefault((fqdn, e.type), (e.expire, set()))[1]
        targets.add(_target(e.type, e.content, zone))
    return [
        Endpoint(fqdn, rtype, tuple(sorted(targets)), ttl)
        for (fqdn, rtype), (ttl, targets) in sets.items()
    ]


def _target(rtype: str, content: str, zone: str) -> str:
    def absolute(host: str) -> str:
        if host == "@":
            return zone
        return host[:-1] if host.endswith(".") else f"{host}.{zone}"

    return _with_host(rtype, content, absolute)


def domain_filter(zones: Iterable[str]) -> dict[str, list[str]]:
    """The body of ``GET /``: the domains external-dns may manage."""
    return {"include": sorted(zones)}
