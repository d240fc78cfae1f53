"""The status document as terminal text (``ddnsd status``); pure.

The same summary as the status page, shorter: the one-line summary, each record, each
family with its sources, the address changes of the last 30 days, recent failures and
challenges, the API window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ddnsd.observe.events import describe
from ddnsd.observe.status import ago, fmt_time

_FAMILY = {"ipv4": "IPv4", "ipv6": "IPv6"}
SHOWN = 5  # events per list


def _v(value: object) -> str:
    return "-" if value is None else str(value)


def _events(title: str, events: Sequence[Mapping[str, Any]], now: float) -> list[str]:
    if not events:
        return []
    lines = [f"{title}:"]
    for ev in events[:SHOWN]:
        lines.append(f"  {ago(now, ev['at']):<12} {describe(ev)}")
    return lines


def render_text(doc: Mapping[str, Any], where: str) -> str:
    """``doc`` (docs/status.md) for a terminal; ``where`` says where it came from."""
    now = float(doc["generated_at"])
    state = "in sync" if doc["in_sync"] else "NOT in sync"
    lines = [f"ddnsd {doc['version']}: {state} ({doc['summary']})", f"  from {where}"]
    if doc["set_aside"]:
        lines.append("set-aside state files (unusable; an ACME journal may list TXT values to")
        lines.append("remove by hand; delete each once looked at):")
        lines += [f"  {name}" for name in doc["set_aside"]]
    if doc["records"]:
        lines.append("records:")
        width = max(len(r["name"]) for r in doc["records"])
        for r in doc["records"]:
            status = "in sync" if r["in_sync"] else f"not in sync: {r['reason'] or r['outcome']}"
            lines.append(
                f"  {r['name']:<{width}}  {r['type']:<4}  {_v(r['value']):<15}  {status}"
                f"  (changed {ago(now, r['last_change'])}, verified {ago(now, r['last_verified'])})"
            )
    for f in doc["families"]:
        label = _FAMILY.get(f["family"], f["family"])
        agreed = f["address"] or "none agreed"
        lines.append(f"{label}: {agreed} ({f['agree']} must agree)")
        if f["reason"]:
            lines.append(f"  {f['reason']}")
        for s in f["sources"]:
            said = s["address"] or f"failed: {s['error']}"
            lines.append(f"  {s['source']:<38} {said}  ({float(s['seconds']) * 1000:.0f} ms)")
    if doc["timeline"]:
        lines.append("address changes, last 30 days:")
        for t in list(reversed(doc["timeline"]))[:SHOWN]:
            family = _FAMILY.get(t["family"], t["family"])
            lines.append(f"  {fmt_time(t['at'])}  {family}  {_v(t['old'])} → {t['new']}")
        more = len(doc["timeline"]) - SHOWN + int(doc.get("timeline_more", 0))
        if more > 0:
            lines.append(f"  and {more} more")
    lines += _events("recent failures", doc["failures"], now)
    lines += _events("ACME challenges", doc["challenges"], now)
    api = doc["api"]
    if api["used"] is not None:
        lines.append(f"TransIP API: {api['used']} of {api['limit']} requests used in the window")
    return "\n".join(lines) + "\n"
