"""ddnsd.durations: the one parser of config durations and TransIP expiration phrases."""

from __future__ import annotations

import math

import pytest

from ddnsd import durations

GOOD = [
    ("1s", 1.0),
    ("90", 90.0),
    (90, 90.0),
    (2.5, 2.5),
    ("5m", 300.0),
    ("1h", 3600.0),
    ("1d", 86400.0),
    (" 2.5m ", 150.0),
    ("365d", 365 * 86400.0),
]


@pytest.mark.parametrize(("value", "seconds"), GOOD, ids=[repr(v) for v, _ in GOOD])
def test_parse_duration_accepts(value: object, seconds: float) -> None:
    assert durations.parse_duration(value) == seconds


BAD = [
    ("", "is not a duration"),
    ("5 parsecs", "is not a duration"),
    ("-1", "is not a duration"),
    (-1, "greater than zero"),
    ("0", "greater than zero"),
    (0, "greater than zero"),
    ("1w", "is not a duration"),
    (True, "expected a duration"),
    (None, "is not a duration"),
    ("m", "is not a duration"),
    (math.nan, "finite"),
    (math.inf, "finite"),
    (-math.inf, "finite"),
    ("nan", "is not a duration"),
    ("inf", "is not a duration"),
    ("1h\x00", "is not a duration"),  # fullmatch: nothing trails the unit
    ("366d", "too long; at most 365 d"),
    (1e300, "too long"),
]


@pytest.mark.parametrize(("value", "message"), BAD, ids=[repr(v) for v, _ in BAD])
def test_parse_duration_refuses_with_one_sentence(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        durations.parse_duration(value)


def test_zero_only_where_allowed() -> None:
    assert durations.parse_duration("0", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="zero or more"):
        durations.parse_duration(-1, allow_zero=True)


PHRASES = [
    ("3600 seconds", 3600),
    ("120 minutes", 7200),
    ("1 hour", 3600),
    ("48 hours", 48 * 3600),
    ("1 day", 86400),
    ("15 days", 15 * 86400),
    ("1 week", 604800),
    ("4 weeks", 4 * 604800),
    ("30 minutes", 1800),
    ("1 Hour", 3600),
    (" 2 hours ", 7200),
    ("1 month", 30 * 86400),
    ("1 fortnight", None),
    ("3 fortnights", None),
    ("hour", None),
    ("-1 hour", None),
    ("1h", None),
    ("", None),
]


@pytest.mark.parametrize(("phrase", "seconds"), PHRASES, ids=[p or "empty" for p, _ in PHRASES])
def test_parse_phrase(phrase: str, seconds: int | None) -> None:
    assert durations.parse_phrase(phrase) == seconds


LIFETIMES = [
    ("1 hour", ("1 hour", 3600)),
    ("4  weeks", ("4 weeks", 4 * 604800)),
    ("1h", ("3600 seconds", 3600)),
    ("90m", ("5400 seconds", 5400)),
    (1800, ("1800 seconds", 1800)),
    ("1 month", ("1 month", 30 * 86400)),
]


@pytest.mark.parametrize(("value", "expected"), LIFETIMES, ids=[repr(v) for v, _ in LIFETIMES])
def test_token_lifetime_accepts_phrases_and_durations(
    value: object, expected: tuple[str, int]
) -> None:
    assert durations.token_lifetime(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3 fortnights", "not a token lifetime"),
        ("2 months", "between 1 min and one month"),
        ("31d", "between 1 min and one month"),
        ("10s", "between 1 min and one month"),
        (math.nan, "not a token lifetime"),
    ],
)
def test_token_lifetime_refuses(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        durations.token_lifetime(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (45, "45 s"),
        (1.5, "1.5 s"),
        (300, "5 min"),
        (7200, "2 h"),
        (86400 * 3, "3 d"),
        (90, "90 s"),
        (86400 * 365, "365 d"),
        (1e300, "1e+300 s"),  # a number a person can read in an error line
        (86400 * 1e20, "8.64e+24 s"),
    ],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert durations.format_seconds(seconds) == text
