"""The status page renderer (pure), the terminal text, and who may see the page."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import pytest
from test_status_board import address_changes
from test_status_docs import rich_document

from ddnsd.config.runtime import StatusAuth
from ddnsd.observe.status import StatusBoard, snapshot
from ddnsd.observe.status_text import render_text
from ddnsd.statedir import StateDir
from ddnsd.web.app import make_app
from ddnsd.web.status_page import render_page, timeline

DAY = 86400.0
NOW = 100 * DAY


def test_page_is_self_contained_and_escapes_everything() -> None:
    doc = rich_document()
    hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    doc["records"][0]["reason"] = hostile
    doc["families"][0]["sources"][0]["source"] = hostile
    doc["history"][0]["kind"] = hostile
    page = render_page(doc)
    assert hostile not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert not re.search(r"<script|<img|<link|@import|url\(|<[^>]*\ssrc=", page, re.I)
    assert re.findall(r'href="([^"]*)"', page) == ["api/status"]  # nothing from elsewhere
    assert "prefers-color-scheme:dark" in page and 'name="viewport"' in page
    assert "<svg" in page


def test_page_shows_records_addresses_and_history() -> None:
    doc = rich_document()
    page = render_page(doc)
    for text in ("home.example.test", "203.0.113.9", "dns:opendns", "in sync", "only 0 of 2"):
        assert text in page
    assert "990 of 1000" not in page and "10 of 1000 requests" in page


def fam(family: str, address: str | None) -> dict[str, Any]:
    return {"family": family, "address": address, "agree": 1, "reason": "", "sources": []}


def change(days_ago: float, old: str | None, new: str, family: str = "ipv4") -> dict[str, Any]:
    return {"at": NOW - days_ago * DAY, "family": family, "old": old, "new": new}


@pytest.mark.parametrize(
    ("families", "changes", "bars", "marks"),
    [
        ([], [], 0, 0),
        ([fam("ipv4", "203.0.113.1")], [], 1, 0),
        ([fam("ipv4", None)], [], 0, 0),
        ([fam("ipv4", "203.0.113.2")], [change(3, "203.0.113.1", "203.0.113.2")], 2, 1),
        ([fam("ipv4", "203.0.113.1")], [change(3, None, "203.0.113.1")], 1, 1),
        (
            [fam("ipv4", "203.0.113.3"), fam("ipv6", "2001:db8::1")],
            [change(9, "203.0.113.1", "203.0.113.2"), change(2, "203.0.113.2", "203.0.113.3")],
            4,
            2,
        ),
    ],
    ids=["nothing", "steady", "unknown", "one-change", "first-address", "two-families"],
)
def test_timeline_bars_and_change_marks(
    families: list[dict[str, Any]], changes: list[dict[str, Any]], bars: int, marks: int
) -> None:
    svg = timeline({"families": families, "timeline": changes}, NOW)
    assert len(re.findall(r'<rect class="p[01]"', svg)) == bars
    assert len(re.findall(r'<line class="chg"', svg)) == marks
    if not families:
        assert "No address known yet" in svg


def test_a_month_of_flapping_gives_a_page_of_bounded_size() -> None:
    """10,000 address changes in 30 days: the page lists the newest 20, says how many more,
    and stays the size of a page with a hundred changes; the terminal text says it too."""
    now = 100 * DAY

    def document(changes: int) -> dict[str, Any]:
        doc = rich_document()
        events = address_changes(now, changes, 0)
        doc.update(snapshot(StatusBoard().live(), events, now, version="1", daemon=None))
        return doc

    flapping, calm = render_page(document(10_000)), render_page(document(101))
    section = flapping.split("Address changes, last 30 days")[1].split("</section>")[0]
    assert section.count('<tr><td data-label="when">') == 20
    assert f"and {10_000 - 20} more in the last 30 days" in section
    assert "and 81 more in the last 30 days" in calm
    assert len(flapping) < 1.05 * len(calm)  # longer addresses, no more of them
    text = render_text(document(10_000), "the state dir")
    assert "address changes, last 30 days:" in text and f"\n  and {10_000 - 5} more\n" in text


def test_terminal_text() -> None:
    text = render_text(rich_document(), "the state dir /var/lib/ddnsd")
    assert text.startswith("ddnsd 1: NOT in sync (")
    assert "home.example.test  A     203.0.113.9" in text
    assert "not in sync: no IPv6 address" in text
    assert "dns:opendns" in text and "from the state dir /var/lib/ddnsd" in text


def call(app: Any, path: str, client: str, auth: str | None = None) -> tuple[int, str]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "REMOTE_ADDR": client,
        "wsgi.input": io.BytesIO(),
    }
    if auth is not None:
        environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h: status.append(s)))
    return int(status[0].split()[0]), body.decode()


@pytest.mark.parametrize(
    ("auth", "client", "credentials", "code"),
    [
        (None, "127.0.0.1", None, 200),
        (None, "::1", None, 200),
        (None, "192.0.2.10", None, 403),
        (None, "2001:db8::5", None, 403),
        (StatusAuth("me", "s3cret"), "192.0.2.10", None, 401),
        (StatusAuth("me", "s3cret"), "192.0.2.10", "me:wrong", 401),
        (StatusAuth("me", "s3cret"), "192.0.2.10", "me:s3cret", 200),
        (StatusAuth("me", "s3cret"), "127.0.0.1", None, 401),  # set: loopback logs in too
    ],
)
@pytest.mark.parametrize("path", ["/", "/api/status"])
def test_who_may_see_the_status(
    auth: StatusAuth | None, client: str, credentials: str | None, code: int, path: str
) -> None:
    app = make_app(metrics=None, health=None, status=rich_document, status_auth=auth)
    got, body = call(app, path, client, credentials)
    assert got == code
    if code == 403:
        assert "[http.status_auth]" in body
    if code != 200:
        assert "home.example.test" not in body


def test_no_status_source_no_status_routes() -> None:
    app = make_app(metrics=None, health=None)
    assert call(app, "/", "127.0.0.1")[0] == 404


def test_history_lines_of_another_version_never_break_the_page(tmp_path: Any) -> None:
    """The history keeps event kinds and fields of later versions as they are; a line of
    a known kind with a field of the wrong type, or without a time in range, is skipped;
    the page and the terminal text still render."""
    import json as json_

    from ddnsd.observe.history import History
    from ddnsd.observe.status import StatusBoard, snapshot

    lines = [
        {
            "kind": "challenge_served",
            "at": NOW - 60,
            "name": "_acme-challenge.x.test",
            "seconds": "slow",
            "nameservers": 3,
        },
        {
            "kind": "challenge_served",
            "at": NOW - 30,
            "name": "_acme-challenge.y.test",
            "seconds": 1.25,
            "nameservers": {"ns1": 0.5, "ns2": 1.25},
        },
        {"kind": "address", "at": "yesterday", "family": "ipv4", "old": None, "new": "192.0.2.1"},
        {"kind": "teleported", "at": NOW - 10, "where": {"nested": [1, 2]}},
    ]
    text = "\n".join(json_.dumps(line) for line in lines)
    text += '\n{"kind": "stopped", "at": Infinity, "pid": 1}\n'
    (tmp_path / "history.jsonl").write_text(text)
    events = History(StateDir(tmp_path)).events()
    assert [e.kind for e in events] == ["challenge_served", "teleported"]

    doc = snapshot(StatusBoard().live(), events, NOW, version="1", daemon=None)
    page = render_page(doc)
    assert "served by all 2 nameservers after 1.2 s" in page
    assert "teleported" in page
    terminal = render_text(doc, "the state dir")
    assert terminal.startswith("ddnsd 1: ")


def test_set_aside_state_files_are_listed_on_the_page_and_in_the_terminal() -> None:
    doc = rich_document()
    assert doc["set_aside"] == ["acme-journal.json.corrupt-20261208T010000Z"]
    page = render_page(doc)
    assert "<h2>Set-aside state files</h2>" in page
    assert "<li><code>acme-journal.json.corrupt-20261208T010000Z</code></li>" in page
    assert "An ACME journal among them may list TXT values to remove from the zone by hand" in page
    terminal = render_text(doc, "the state dir").splitlines()
    assert "  acme-journal.json.corrupt-20261208T010000Z" in terminal
    assert "<h2>Set-aside state files</h2>" not in render_page({**doc, "set_aside": []})
