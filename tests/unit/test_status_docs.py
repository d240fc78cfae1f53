"""docs/status.md and the code agree: event kinds and their fields, the /api/status fields."""

from __future__ import annotations

from typing import Any

from status_schema import check_document, documented_fields, documented_kinds

from ddnsd.detect.agree import Agreement, SourceReport
from ddnsd.detect.base import Family
from ddnsd.model import DnsEntry, Outcome, RecordSpec
from ddnsd.observe.events import KINDS, Event, event
from ddnsd.observe.status import StatusBoard, snapshot
from ddnsd.reconcile.applier import RecordResult
from ddnsd.reconcile.engine import RoundResult
from ddnsd.reconcile.planner import Change


def rich_document() -> dict[str, Any]:
    """A document with every list filled: two records, both families, every kind of event."""
    board = StatusBoard()
    a, aaaa = RecordSpec("example.test", "home", "A"), RecordSpec("example.test", "home", "AAAA")
    reports = [
        SourceReport("dns:opendns", "203.0.113.9", None, 0.02),
        SourceReport("https://x", None, "timeout", 5.0),
    ]
    events: list[Event] = []
    agreements = {
        "A": Agreement(Family.V4, "203.0.113.9", reports, 1),
        "AAAA": Agreement(Family.V6, None, [], 2, "only 0 of 2 sources gave an address"),
    }
    events += board.update_families(10.0, agreements)
    change = Change("add", "example.test", DnsEntry("home", 300, "A", "203.0.113.9"), a.key, "")
    results = {
        a.key: RecordResult(a, Outcome.UPDATED, "written", (change,), "203.0.113.9"),
        aaaa.key: RecordResult(aaaa, Outcome.FAILED, "no IPv6 address", via="none"),
    }
    events += board.update_records(10.0, RoundResult(results, 2, True))
    events += board.update_round(10.0, False)[1]
    board.update_api(1000, 990, 900.0)
    others = {kind: fields for kind, fields in KINDS.items() if kind != "address"}
    events += [event(kind, 11.0, **dict.fromkeys(fields)) for kind, fields in others.items()]
    return snapshot(
        board.live(),
        events,
        20.0,
        version="1",
        daemon={"pid": 1, "started_at": 1.0},
        set_aside=["acme-journal.json.corrupt-20261208T010000Z"],
    )


def test_every_event_kind_is_documented_with_its_fields() -> None:
    assert documented_kinds() == KINDS


def test_a_full_document_matches_the_documented_fields() -> None:
    doc = rich_document()
    assert check_document(doc) == []
    assert all(doc[key] for key in ("records", "families", "timeline", "challenges", "failures"))


def test_every_documented_field_is_in_a_full_document() -> None:
    doc = rich_document()
    paths: set[str] = set()

    def walk(value: Any, path: str) -> None:
        paths.add(path)
        if isinstance(value, dict) and documented_fields().get(path) != {"event"}:
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")

    walk(doc, "")
    assert set(documented_fields()) <= paths


def test_the_check_finds_what_is_wrong() -> None:
    doc = rich_document()
    doc["surprise"] = 1
    doc["records"][0]["in_sync"] = "yes"
    del doc["families"][0]["agree"]
    del doc["summary"]
    assert sorted(check_document(doc)) == [
        "families[].agree: missing",
        "records[].in_sync: 'yes' is not bool",
        "summary: missing",
        "surprise: not documented",
    ]
