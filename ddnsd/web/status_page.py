"""The status page as HTML, from the ``/api/status`` document; pure (no I/O, no clock).

One self-contained document: inline CSS, an inline SVG timeline, no script, no font,
no image, nothing fetched (the route sends a Content-Security-Policy that forbids it).
Light or dark by ``prefers-color-scheme``; tables scroll sideways on a narrow phone.
Every value comes from outside (record names, addresses, source labels, error texts)
and goes through :func:`html.escape`; the document holds no secret to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ddnsd.observe.events import describe
from ddnsd.observe.status import RECENT, TIMELINE_SECONDS, ago, fmt_time

CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;
--card:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--a:#0969da;--b:#8250df}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#3d444d;--card:#151b23;--ok:#3fb950;--bad:#f85149;--a:#4493f8;--b:#ab7df8}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:62rem;padding:1rem;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem .8rem}
h1{font-size:1.35rem;margin:0}
h2{font-size:1.05rem;margin:1.5rem 0 .4rem;padding-bottom:.2rem;border-bottom:1px solid var(--line)}
.badge{padding:.1rem .6rem;border-radius:1rem;font-weight:600;font-size:.85rem;color:#fff}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;white-space:nowrap}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;
overflow-wrap:anywhere}
.tl{display:grid;grid-template-columns:auto 1fr;gap:.35rem .6rem;align-items:center;
margin-bottom:.6rem;font-size:.85rem}
.tl svg{display:block;width:100%;height:1.4rem}
.axis{display:flex;justify-content:space-between;color:var(--muted);font-size:.75rem}
.muted,footer{color:var(--muted)}.yes{color:var(--ok);font-weight:600}.no{color:var(--bad)}
.nowrap{white-space:nowrap}
footer{margin-top:2rem;font-size:.8rem}
svg .lane{fill:var(--card)}svg .p0{fill:var(--a)}svg .p1{fill:var(--b)}
svg line{vector-effect:non-scaling-stroke}svg .tick{stroke:var(--line)}
svg .chg{stroke:var(--fg);stroke-width:2}
@media (max-width:40rem){body{padding:.6rem;font-size:14px}
table,tbody,tr,td{display:block}thead{display:none}
tr{padding:.35rem 0;border-bottom:1px solid var(--line)}
td{border:0;padding:.05rem 0}td::before{content:attr(data-label) ": ";color:var(--muted)}}
"""

_FAMILY = {"ipv4": "IPv4", "ipv6": "IPv6"}


def e(value: object) -> str:
    """``value`` as escaped text ("—" for None)."""
    return "—" if value is None else escape(str(value), quote=True)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    """A table of already-escaped cells (or the ``empty`` sentence); each cell carries its
    column's name for the narrow layout, where rows become cards."""
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f'<td data-label="{escape(h)}">{c}</td>' for h, c in zip(head, row, strict=True))
        + "</tr>"
        for row in rows
    )
    table = f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _when(now: float, ts: float | None) -> str:
    if ts is None:
        return '<span class="muted">never</span>'
    return f'<span class="nowrap" title="{e(fmt_time(ts))}">{e(ago(now, ts))}</span>'


def _records(doc: Mapping[str, Any], now: float) -> str:
    rows = []
    for r in doc["records"]:
        status = (
            '<span class="yes">in sync</span>'
            if r["in_sync"]
            else f'<span class="no">{e(r["reason"] or r["outcome"] or "unknown")}</span>'
        )
        rows.append(
            [
                f'<span class="mono">{e(r["name"])}</span>',
                e(r["type"]),
                f'<span class="mono">{e(r["value"])}</span>',
                status,
                _when(now, r["last_change"]),
                _when(now, r["last_verified"]),
            ]
        )
    head = ["record", "type", "value", "status", "last change", "last verified"]
    return _table(head, rows, "No records are configured (ACME or router push only).")


def _families(doc: Mapping[str, Any]) -> str:
    out = []
    for f in doc["families"]:
        label = _FAMILY.get(f["family"], f["family"])
        agreed = (
            f'<span class="mono">{e(f["address"])}</span>'
            if f["address"]
            else '<span class="no">none agreed</span>'
        )
        out.append(
            f"<p><strong>{e(label)}</strong> {agreed} "
            f'<span class="muted">({e(f["agree"])} must agree)</span></p>'
        )
        if f["reason"]:
            out.append(f'<p class="no">{e(f["reason"])}</p>')
        rows = [
            [
                f'<span class="mono">{e(s["source"])}</span>',
                f'<span class="mono">{e(s["address"])}</span>'
                if s["address"]
                else f'<span class="no">{e(s["error"])}</span>',
                f'<span class="nowrap">{float(s["seconds"]) * 1000:.0f} ms</span>',
            ]
            for s in f["sources"]
        ]
        out.append(_table(["source", "answer", "latency"], rows, "No source answered yet."))
    return "".join(out) or '<p class="muted">No address detected yet.</p>'


def _lane(doc: Mapping[str, Any], fam: str, now: float) -> str:
    """One family's 30 days as an SVG stretched to the row: a bar per address."""
    start = now - TIMELINE_SECONDS

    def x(ts: float) -> float:  # 0 … 1000 across the 30 days
        return 1000 * min(1.0, max(0.0, (ts - start) / TIMELINE_SECONDS))

    parts = [
        '<svg viewBox="0 0 1000 20" preserveAspectRatio="none" role="img" '
        f'aria-label="{e(_FAMILY.get(fam, fam))} addresses over the last 30 days">'
        '<rect class="lane" x="0" y="0" width="1000" height="20"/>'
    ]
    for day in range(5, 30, 5):
        tx = x(start + day * 86400)
        parts.append(f'<line class="tick" x1="{tx:.1f}" y1="0" x2="{tx:.1f}" y2="20"/>')
    changes = [t for t in doc["timeline"] if t["family"] == fam]
    current = next((f["address"] for f in doc["families"] if f["family"] == fam), None)
    address, since = (changes[0]["old"] if changes else current), start
    if doc.get("timeline_more") and doc["timeline"]:  # unlisted changes before the listed
        since = max(start, float(doc["timeline"][0]["at"]))
    for n, t in enumerate([*changes, None]):
        until = now if t is None else max(start, float(t["at"]))
        if address is not None and until > since:
            tip = f"{address} from {fmt_time(since)} to {fmt_time(until)}"
            parts.append(
                f'<rect class="p{n % 2}" x="{x(since):.1f}" y="3" '
                f'width="{max(1.5, x(until) - x(since)):.1f}" height="14">'
                f"<title>{e(tip)}</title></rect>"
            )
        if t is not None:
            cx = x(float(t["at"]))
            tip = f"{fmt_time(float(t['at']))}: {t['old'] or '(none)'} → {t['new']}"
            parts.append(
                f'<line class="chg" x1="{cx:.1f}" y1="0" x2="{cx:.1f}" y2="20">'
                f"<title>{e(tip)}</title></line>"
            )
            address, since = t["new"], until
    return "".join(parts) + "</svg>"


def timeline(doc: Mapping[str, Any], now: float) -> str:
    """Address changes of the last 30 days: one row per family, days -30 … now (the
    changes the document lists: the newest ``TIMELINE_CHANGES``)."""
    lanes = [f["family"] for f in doc["families"]]
    lanes += sorted({t["family"] for t in doc["timeline"]} - set(lanes))
    if not lanes:
        return '<p class="muted">No address known yet.</p>'
    rows = "".join(f"<span>{e(_FAMILY.get(f, f))}</span>{_lane(doc, f, now)}" for f in lanes)
    axis = "".join(f"<span>-{d} d</span>" for d in range(30, 0, -5)) + "<span>now</span>"
    return f'<div class="tl">{rows}<span></span><div class="axis">{axis}</div></div>'


def _changes(doc: Mapping[str, Any]) -> str:
    """The newest ``RECENT`` changes as a table, and how many more the 30 days hold."""
    newest = list(reversed(doc["timeline"]))
    rows = [
        [
            f'<span class="nowrap">{e(fmt_time(t["at"]))}</span>',
            e(_FAMILY.get(t["family"], t["family"])),
            f'<span class="mono">{e(t["old"])} → {e(t["new"])}</span>',
        ]
        for t in newest[:RECENT]
    ]
    table = _table(["when", "family", "change"], rows, "No address change in the last 30 days.")
    more = len(newest) - len(rows) + int(doc["timeline_more"])
    if more > 0:
        table += f'<p class="muted">and {more} more in the last 30 days</p>'
    return table


def _event_rows(events: Sequence[Mapping[str, Any]], now: float) -> list[list[str]]:
    return [
        [_when(now, ev["at"]), f'<span class="mono nowrap">{e(ev["kind"])}</span>', e(describe(ev))]
        for ev in events
    ]


def _set_aside(doc: Mapping[str, Any]) -> str:
    names = "".join(f"<li><code>{e(name)}</code></li>" for name in doc["set_aside"])
    return f"<p>{escape(SET_ASIDE)}</p><ul>{names}</ul>"


def _api(doc: Mapping[str, Any]) -> str:
    api = doc["api"]
    if api["used"] is None:
        return '<p class="muted">No TransIP answer carried rate-limit figures yet.</p>'
    reset = f", the oldest leaves the window at {e(fmt_time(api['reset']))}" if api["reset"] else ""
    used = f"{e(api['used'])} of {e(api['limit'])} requests"
    return f"<p>{used} used in the current 15-minute window{reset}.</p>"


SET_ASIDE = (
    "ddnsd found these files of its state dir unusable (corrupt, a link, another user's), "
    "set them aside and started afresh. An ACME journal among them may list TXT values to "
    "remove from the zone by hand. Delete each file once you have looked at it."
)


def render_page(doc: Mapping[str, Any]) -> str:
    """The whole page for the status document ``doc`` (see docs/status.md)."""
    now = float(doc["generated_at"])
    ok = bool(doc["in_sync"])
    badge = (
        '<span class="badge ok">in sync</span>'
        if ok
        else '<span class="badge bad">not in sync</span>'
    )
    source = "the running daemon" if doc["daemon"] else "the state dir (no daemon running)"

    def events(key: str, empty: str) -> str:
        return _table(["when", "event", "what"], _event_rows(doc[key], now), empty)

    aside = [("Set-aside state files", _set_aside(doc))] if doc["set_aside"] else []
    sections = [
        *aside,
        ("Records", _records(doc, now)),
        ("Addresses", _families(doc)),
        ("Address changes, last 30 days", timeline(doc, now) + _changes(doc)),
        ("ACME challenges", events("challenges", "No ACME challenge recorded.")),
        ("Recent failures", events("failures", "No failure recorded.")),
        ("TransIP API", _api(doc)),
        ("History", events("history", "No event recorded yet.")),
    ]
    body = "".join(f"<section><h2>{escape(title)}</h2>{html}</section>" for title, html in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="refresh" content="60">'
        f"<title>ddnsd: {'in sync' if ok else 'not in sync'}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>ddnsd</h1>{badge}<span>{e(doc['summary'])}</span></header>"
        f"{body}<footer>ddnsd {e(doc['version'])} · from {e(source)} · {e(fmt_time(now))} · "
        'also as JSON: <a href="api/status">api/status</a></footer></body></html>'
    )
