"""The figures table that ``make campaigns`` prints for the README."""

from __future__ import annotations

import pytest
from campaign_support import cell, check_row, table


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (0, "0"), (12, "12"), ({"500": 3, "409": 1}, "409 1, 500 3"), ({}, "0")],
)
def test_cells(value: object, text: str) -> None:
    assert cell(value) == text


def test_rows_sorted_with_dashes_for_figures_a_campaign_does_not_have() -> None:
    lines = table({"kills": {"cases": 100, "orphans": 0}, "faults": {"cases": 5}})
    assert lines[2].startswith("| faults | 5 | — |")
    assert lines[3] == "| kills | 100 | — | 0 | — | — | — | — |"


def test_unknown_figure_names_are_refused() -> None:
    with pytest.raises(AssertionError, match="unknown figure"):
        check_row({"orphanz": 1})
