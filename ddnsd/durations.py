"""Durations, in one place: config values, TransIP ``expiration_time`` phrases, the emulator.

Pure and standard-library only, so the TransIP transport, the emulator and the hook's
fast path can use it without importing the configuration models.

* :func:`parse_duration`: a config value — ``90``, ``"90"``, ``"30s"``, ``"5m"``, ``"1h"``,
  ``"1d"`` — in seconds. Finite, above zero (or zero where allowed), at most ``maximum``.
* :func:`parse_phrase`: a TransIP ``expiration_time`` phrase — ``"3600 seconds"``,
  ``"120 minutes"``, ``"1 hour"``, ``"48 hours"``, ``"15 days"``, ``"4 weeks"``,
  ``"1 month"`` (the examples of the API documentation) — in seconds.
* :func:`token_lifetime`: either form, checked against TransIP's limit of one month,
  as ``(phrase to send, seconds)``.
"""

from __future__ import annotations

import math
import re

MINUTE = 60
HOUR = 3600
DAY = 86400
#: TransIP: "This has a maximum of 1 month" (the emulator and ddnsd count 30 days).
MONTH = 30 * DAY
#: Longest duration a config key accepts unless it says otherwise.
MAX_DURATION = 365 * DAY

_SUFFIX = {"": 1, "s": 1, "m": MINUTE, "h": HOUR, "d": DAY}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_PHRASE_UNITS = {
    "second": 1,
    "minute": MINUTE,
    "hour": HOUR,
    "day": DAY,
    "week": 7 * DAY,
    "month": MONTH,
}
_PHRASE = re.compile(r"\s*(\d{1,9})\s*(second|minute|hour|day|week|month)s?\s*", re.IGNORECASE)


def parse_duration(
    value: object, *, allow_zero: bool = False, maximum: float = MAX_DURATION
) -> float:
    """``"1s"``, ``"90"``, ``90``, ``"5m"``, ``"1h"``, ``"1d"`` → seconds (float).

    ValueError (one sentence) for anything else: text in another form, a boolean, NaN,
    infinity, a negative number, zero unless ``allow_zero``, more than ``maximum``.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration like '90', '5m' or '1h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.lower())):
        seconds = float(m.group(1)) * _SUFFIX[m.group(2)]
    else:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ValueError(f"{shown} is not a duration; use e.g. '90', '30s', '5m', '1h' or '1d'")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a duration; use a finite number of seconds")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(
            "a duration must be zero or more"
            if allow_zero
            else "a duration must be greater than zero"
        )
    if seconds > maximum:
        raise ValueError(
            f"{format_seconds(seconds)} is too long; at most {format_seconds(maximum)}"
        )
    return seconds


def parse_phrase(phrase: str) -> int | None:
    """Seconds in an ``expiration_time`` phrase ("1 hour", "120 minutes", "4 weeks").

    ``None`` when the phrase is not in TransIP's form (a number and a unit).
    """
    match = _PHRASE.fullmatch(phrase)
    if not match:
        return None
    return int(match.group(1)) * _PHRASE_UNITS[match.group(2).lower()]


def token_lifetime(value: object, *, minimum: float = MINUTE) -> tuple[str, int]:
    """A token lifetime as ``(expiration_time phrase to send, seconds)``.

    Accepts a TransIP phrase ("1 hour", "4 weeks": sent as written) or a duration
    ("1h", 3600: sent as "3600 seconds"). ValueError outside ``minimum`` .. one month.
    """
    phrase: str | None = None
    seconds: float
    if isinstance(value, str) and (found := parse_phrase(value)) is not None:
        phrase, seconds = " ".join(value.split()), float(found)
    else:
        try:
            seconds = parse_duration(value, maximum=math.inf)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a token lifetime; use a TransIP phrase like '1 hour' or "
                "'4 weeks', or a duration like '1h'"
            ) from None
    if seconds < minimum or seconds > MONTH:
        raise ValueError(
            f"a token lifetime must be between {format_seconds(minimum)} and one month "
            f"(TransIP's limit), not {format_seconds(seconds)}"
        )
    whole = int(seconds)
    return (phrase if phrase is not None else f"{whole} seconds"), whole


def format_seconds(seconds: float) -> str:
    """``"45 s"``, ``"5 min"``, ``"2 h"``, ``"3 d"``: the largest whole unit (for messages)."""
    for unit, size in (("d", DAY), ("h", HOUR), ("min", MINUTE)):
        if size <= seconds < 1e9 and seconds % size == 0:  # 1e9 s: ~30 years, then "1e+300 s"
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"
