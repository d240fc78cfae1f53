"""docs/metrics.md and the Grafana dashboard name only metrics that exist, with their labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ddnsd.observe.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = ("_bucket", "_sum", "_count", "_created")


def exposed() -> dict[str, tuple[str, ...]]:
    """Every ddnsd_* name as written in queries → its label names."""
    m = Metrics(process_metrics=False)
    out: dict[str, tuple[str, ...]] = {}
    for attr in vars(m).values():
        name = getattr(attr, "_name", None)
        if not isinstance(name, str) or not name.startswith("ddnsd_"):
            continue
        if getattr(attr, "_type", "") == "counter":
            name += "_total"
        out[name] = tuple(attr._labelnames)
    return out


def used_names(text: str) -> set[str]:
    names = set()
    for token in re.findall(r"\bddnsd_[a-z_]+", text):
        for suffix in SUFFIXES:
            if token.endswith(suffix) and token.removesuffix(suffix) in exposed():
                token = token.removesuffix(suffix)
        names.add(token)
    return names


def test_exposed_names_match_metric_names() -> None:
    assert set(exposed()) == Metrics(process_metrics=False).metric_names()


def test_every_metric_is_documented_with_its_labels() -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `(ddnsd_[a-z_]+)` \| \w+ \| ([^|]*) \|", doc, re.M)
    }
    assert set(rows) == set(exposed()), "docs/metrics.md table differs from the code"
    for name, labels in exposed().items():
        documented = tuple(re.findall(r"`(\w+)`", rows[name]))
        assert documented == labels, f"{name}: docs say {documented}, code has {labels}"


@pytest.mark.parametrize(
    "path", ["docs/metrics.md", "deploy/grafana/ddnsd.json", "README.md"], ids=str
)
def test_no_unknown_metric_names(path: str) -> None:
    unknown = used_names((ROOT / path).read_text()) - set(exposed())
    assert not unknown, f"{path} uses metrics that do not exist: {sorted(unknown)}"


def test_dashboard_is_valid_json_with_queries() -> None:
    dash = json.loads((ROOT / "deploy" / "grafana" / "ddnsd.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs and all(e.strip() for e in exprs)
    # the dashboard shows the metrics a user watches first
    for must in ("ddnsd_record_in_sync", "ddnsd_api_requests_total", "ddnsd_last_success"):
        assert any(must in e for e in exprs), must
