"""The planner: record specs + addresses + the zone's current entries → a Plan.

PURE: no I/O, no clock, no logging. Everything here is a function of its arguments,
so every rule is tested directly (``tests/unit/test_planner.py``).

Rules (per configured record, i.e. per domain + name + type):

* address unknown (``None``)                → no change (decision ``unknown``)
* no entry                                  → POST the desired entry (ttl from the spec)
* one entry, same content and ttl           → nothing to do (``in-sync``)
* one entry, other content                  → PATCH its content (same expire: PATCH matches
                                              name + expire + type)
* several entries, not exclusive            → ``conflict``: left alone
* several entries, ``exclusive = true``     → keep one (prefer one that already holds the
                                              desired content), delete the rest, deletes
                                              first so that a PATCH matches one entry

TTL: TransIP keeps ONE expire per name + type and refuses an entry that would mix two
("the expire of all records in an rrset must be all the same"; the emulator does the
same). A TTL change therefore cannot be done as "add the new entry, then delete the old
one": the only way is to remove the record for a moment, which ddnsd never does. So an
existing record keeps its stored expire (the address is still kept right) and the plan
carries a note that says so; a new record gets the spec's ttl.

Other names and types are never touched, name matching is case-insensitive, "@" is the
apex. Every plan is checked by replaying it on a copy of the zone (:func:`check_plan`):
a change outside the configured records, a PATCH that would not match exactly one entry,
a DELETE of an entry that is not there, a duplicate POST or a step that leaves a record's
name empty raises :class:`~ddnsd.errors.UnsafePlan` instead of reaching the API.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ddnsd.detect.validate import combine_ipv6_host
from ddnsd.errors import UnsafePlan
from ddnsd.model import DnsEntry, RecordSpec

ChangeKind = Literal["add", "update", "delete"]

#: HTTP method each change kind becomes (for messages and logs).
METHODS: Mapping[str, str] = {"add": "POST", "update": "PATCH", "delete": "DELETE"}

_FAMILIES = ("A", "AAAA")


@dataclass(frozen=True, slots=True)
class Change:
    """One single-entry write.

    ``entry`` is what is sent: for ``add`` the new entry, for ``update`` the stored entry
    with its new content (name + expire + type select it), for ``delete`` the exact stored
    entry as listed by GET. ``old`` is the entry an ``update`` replaces (for messages).
    """

    kind: ChangeKind
    domain: str
    entry: DnsEntry
    spec_key: str
    reason: str
    old: DnsEntry | None = None

    @property
    def method(self) -> str:
        return METHODS[self.kind]

    def describe(self) -> str:
        """``'home.example.test/A: 203.0.113.1 → 203.0.113.2 (PATCH)'``-style text."""
        if self.kind == "update":
            before = self.old.content if self.old else "?"
            return f"{self.spec_key}: {before} → {self.entry.content} ({self.method})"
        if self.kind == "add":
            return f"{self.spec_key}: (none) → {self.entry.content} ({self.method})"
        return (
            f"{self.spec_key}: remove {self.entry.content} ttl {self.entry.expire} ({self.method})"
        )


class Decision(enum.Enum):
    """What the planner decided for one record."""

    IN_SYNC = "in-sync"  # the zone already holds exactly the desired entry
    CHANGES = "changes"  # one or more single-entry writes are planned
    CONFLICT = "conflict"  # several entries and not exclusive: left alone on purpose
    UNKNOWN = "unknown"  # no address known this round: left alone


@dataclass(frozen=True, slots=True)
class RecordPlan:
    """The decision for one record spec, with the entries it was based on."""

    spec: RecordSpec
    address: str | None  # the address given to the planner (before ipv6_host)
    desired: str | None  # the content the record should hold (after ipv6_host)
    decision: Decision
    current: tuple[DnsEntry, ...]  # the spec's entries (name + type) as listed
    changes: tuple[Change, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = ()  # things the user should know (e.g. a ttl that cannot change)
    expire: int | None = None  # the expire of the record's one entry once the changes are made


@dataclass(frozen=True, slots=True)
class Plan:
    """All changes for one domain, grouped per record, in the order they must run."""

    domain: str
    records: tuple[RecordPlan, ...] = field(default_factory=tuple)

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for r in self.records for c in r.changes)

    @property
    def empty(self) -> bool:
        return not self.changes

    def record(self, key: str) -> RecordPlan:
        for r in self.records:
            if r.spec.key == key:
                return r
        raise KeyError(key)


# --------------------------------------------------------------------------- helpers


def desired_content(spec: RecordSpec, address: str | None) -> str | None:
    """The content ``spec`` should hold given the detected ``address`` (None = unknown).

    A: the address itself (normalised). AAAA: the address, or with ``ipv6_host`` the
    detected /64 prefix followed by that interface identifier. Idempotent: passing an
    already combined address gives the same result. Garbage raises UnsafePlan.
    """
    if address is None:
        return None
    text = address.strip()
    if spec.type == "A":
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise UnsafePlan(
                f"refusing to write {address!r} to {spec.key}: it is not an IPv4 address; "
                "check the address sources"
            ) from None
    if spec.type == "AAAA":
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            raise UnsafePlan(
                f"refusing to write {address!r} to {spec.key}: it is not an IPv6 address; "
                "check the address sources"
            ) from None
        if spec.ipv6_host:
            try:
                return combine_ipv6_host(str(addr), spec.ipv6_host)
            except ValueError as exc:
                raise UnsafePlan(f"record {spec.key}: {exc}") from None
        return str(addr)
    raise UnsafePlan(f"record {spec.key}: ddnsd only manages A and AAAA records")


def same_content(rtype: str, a: str, b: str) -> bool:
    """Address equality ("2001:DB8::1" == "2001:db8:0::1"); raw text for anything else."""
    if rtype in _FAMILIES:
        try:
            return ipaddress.ip_address(a.strip()) == ipaddress.ip_address(b.strip())
        except ValueError:
            return a == b
    return a == b


def _name_key(name: str) -> str:
    n = name.strip().rstrip(".").lower()
    return n or "@"


def _matches(spec: RecordSpec, entry: DnsEntry) -> bool:
    return _name_key(entry.name) == _name_key(spec.name) and entry.type.upper() == spec.type


def _spec_id(spec: RecordSpec) -> tuple[str, str, str]:
    return (spec.domain.lower().rstrip("."), _name_key(spec.name), spec.type.upper())


# --------------------------------------------------------------------------- planning


def plan_domain(
    domain: str,
    specs: Sequence[RecordSpec],
    addresses: Mapping[str, str | None],
    entries: Sequence[DnsEntry],
) -> Plan:
    """Plan the changes that bring ``specs`` (all of ``domain``) to their addresses.

    ``addresses`` maps ``spec.key`` → the address detected for that record (``None`` or a
    missing key = unknown, the record is left alone); ``ipv6_host`` is applied here.
    ``entries`` is the whole zone as ``GET /domains/{domain}/dns`` listed it.
    """
    _check_specs(domain, specs)
    records: list[RecordPlan] = []
    for spec in specs:
        address = addresses.get(spec.key)
        records.append(plan_record(spec, address, entries))
    plan = Plan(domain=domain, records=tuple(records))
    check_plan(plan, specs, entries)
    return plan


def plan_record(spec: RecordSpec, address: str | None, entries: Sequence[DnsEntry]) -> RecordPlan:
    """The decision for one record (see the module docstring for the rules)."""
    current = tuple(e for e in entries if _matches(spec, e))
    desired = desired_content(spec, address)
    if desired is None:
        return RecordPlan(
            spec, address, None, Decision.UNKNOWN, current, reason="address unknown; left alone"
        )

    def change(
        kind: ChangeKind, entry: DnsEntry, reason: str, old: DnsEntry | None = None
    ) -> Change:
        return Change(kind, spec.domain, entry, spec.key, reason, old)

    def holds(e: DnsEntry) -> bool:
        return same_content(spec.type, e.content, desired)

    if not current:
        new = DnsEntry(spec.name, spec.ttl, spec.type, desired)
        return RecordPlan(
            spec,
            address,
            desired,
            Decision.CHANGES,
            current,
            (change("add", new, "no entry yet"),),
            reason="no entry yet",
            expire=new.expire,
        )

    if len(current) > 1 and not spec.exclusive:
        values = ", ".join(f"{e.content} ttl {e.expire}" for e in current)
        return RecordPlan(
            spec,
            address,
            desired,
            Decision.CONFLICT,
            current,
            reason=(
                f"{len(current)} entries ({values}); left alone. "
                "Remove the extra entries or set exclusive = true for this record"
            ),
        )

    # One entry, or several and exclusive: keep one (prefer the one holding the address);
    # delete the others first, so that a PATCH of the kept one matches exactly one entry.
    keep = next((e for e in current if holds(e)), current[0])
    others = list(current)
    others.remove(keep)
    changes = [change("delete", e, "exclusive: remove the other entries") for e in others]
    if not holds(keep):
        new = DnsEntry(keep.name, keep.expire, keep.type, desired)
        changes.append(change("update", new, "address changed", old=keep))
    notes: tuple[str, ...] = ()
    if keep.expire != spec.ttl:
        notes = (
            f"{spec.key} keeps ttl {keep.expire} (configured: {spec.ttl}): TransIP keeps one "
            "ttl per name and type, so changing it means removing the record for a moment, "
            "which ddnsd does not do; change the ttl in the TransIP control panel",
        )
    reason = changes[-1].reason if changes else "in sync"
    decision = Decision.CHANGES if changes else Decision.IN_SYNC
    return RecordPlan(
        spec, address, desired, decision, current, tuple(changes), reason, notes, keep.expire
    )


def check_specs(specs: Sequence[RecordSpec]) -> None:
    """Refuse a record list the planner would refuse anyway (A/AAAA only, no duplicates)."""
    by_domain: dict[str, list[RecordSpec]] = {}
    for spec in specs:
        by_domain.setdefault(spec.domain.lower().rstrip("."), []).append(spec)
    for domain, group in by_domain.items():
        _check_specs(domain, group)


def _check_specs(domain: str, specs: Sequence[RecordSpec]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for spec in specs:
        if spec.domain.lower().rstrip(".") != domain.lower().rstrip("."):
            raise UnsafePlan(f"record {spec.key} is not in domain {domain!r}; not planning it")
        if spec.type not in _FAMILIES:
            raise UnsafePlan(f"record {spec.key}: ddnsd only manages A and AAAA records")
        sid = _spec_id(spec)
        if sid in seen:
            raise UnsafePlan(
                f"record {spec.key} is configured twice; keep one [[records]] entry for it"
            )
        seen.add(sid)


def check_plan(plan: Plan, specs: Sequence[RecordSpec], entries: Sequence[DnsEntry]) -> None:
    """Replay ``plan`` on a copy of ``entries``; raise UnsafePlan on any unsafe step."""
    by_id = {_spec_id(s): s for s in specs}
    state = list(entries)
    owned = {
        (_name_key(e.name), e.type.upper())
        for e in entries
        if (plan.domain.lower().rstrip("."), _name_key(e.name), e.type.upper()) in by_id
    }
    for c in plan.changes:
        e = c.entry
        spec = by_id.get((c.domain.lower().rstrip("."), _name_key(e.name), e.type.upper()))
        where = f"{c.method} {e.describe()} in {c.domain}"
        if c.domain != plan.domain or spec is None or spec.key != c.spec_key:
            raise UnsafePlan(f"refusing {where}: it is not a configured record")
        if c.kind in ("add", "update"):
            desired_content(spec, e.content)  # raises on garbage
        same_sel = [
            x
            for x in state
            if _name_key(x.name) == _name_key(e.name)
            and x.type.upper() == e.type.upper()
            and x.expire == e.expire
        ]
        if c.kind == "add":
            if e in state:
                raise UnsafePlan(f"refusing {where}: the entry exists already (duplicate)")
            mixed = [
                x
                for x in state
                if _name_key(x.name) == _name_key(e.name)
                and x.type.upper() == e.type.upper()
                and x.expire != e.expire
            ]
            if mixed:
                raise UnsafePlan(
                    f"refusing {where}: TransIP keeps one ttl per name and type "
                    f"and {e.name} {e.type} uses {mixed[0].expire}"
                )
            state.append(e)
        elif c.kind == "update":
            if len(same_sel) != 1:
                raise UnsafePlan(
                    f"refusing {where}: PATCH would match {len(same_sel)} entries, not one"
                )
            state[state.index(same_sel[0])] = e
        else:
            if e not in state:
                raise UnsafePlan(f"refusing {where}: no such entry in the zone")
            state.remove(e)
        for name, rtype in owned:
            if not any(_name_key(x.name) == name and x.type.upper() == rtype for x in state):
                raise UnsafePlan(f"refusing {where}: it would leave {name} {rtype} empty")
