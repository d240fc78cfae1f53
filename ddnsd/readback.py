"""Reading a state file back: the one rule for every file ddnsd reads from its state dir.

A state file is input like any other: a power cut, a full disk, a clock
step or a hand edit can leave anything in it. :func:`read_back` is the one rule for every
file ddnsd reads back: never through a symbolic link, only a regular file owned by the
state directory's owner (or this process's user), at most a size cap, JSON (no NaN or
infinity, no nesting too deep to parse) that its pydantic model accepts (each model
checks its ranges and that its times lie in the window they can mean). Anything else is
*set aside* (:func:`set_aside`): renamed to ``NAME.corrupt-<UTC time>`` beside it, one
warning names it and says what to do, and the caller starts afresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pydantic

from ddnsd.statefiles import A_LINK, open_nofollow

log = logging.getLogger(__name__)

# -- reading back ----------------------------------------------------------------

M = TypeVar("M", bound=pydantic.BaseModel)

#: the largest state file read back, unless the reader says otherwise
MAX_BYTES = 1024 * 1024
#: what a time in a state file may be at most when nothing narrower applies (9999-12-31)
LAST_TIME = 253402300799.0
#: how far ahead of the clock a time that was "now" when written may be: a clock stepped
#: back keeps what it wrote, a stamp further ahead is not a time ddnsd wrote
AHEAD = 86400.0


# Scalars of the state files' models: exactly their JSON type (no "5" for 5, no true for
# 1), numbers finite. Lists and tuples come from JSON arrays, so the models are not
# strict as a whole.
Int = Annotated[int, pydantic.Strict()]
Number = Annotated[float, pydantic.Strict(), pydantic.AllowInfNan(False)]
Text = Annotated[str, pydantic.Strict()]
Flag = Annotated[bool, pydantic.Strict()]


def _recent(value: float, info: pydantic.ValidationInfo) -> float:
    return when(value, info, ahead=AHEAD)


#: a time that was "now" when it was written (see :data:`AHEAD`)
Time = Annotated[Number, pydantic.AfterValidator(_recent)]


class Unusable(ValueError):
    """Why a state file cannot be used (its text goes into the set-aside warning)."""


def context_of(info: pydantic.ValidationInfo) -> Mapping[str, Any]:
    """What :func:`validate` passes the model's validators: ``now`` (the time the file is
    judged at) and whatever the reader adds (``read_back``'s ``context``)."""
    return info.context if isinstance(info.context, Mapping) else {"now": time.time()}


def when(value: float, info: pydantic.ValidationInfo, *, ahead: float | None = None) -> float:
    """A time read back: at most :data:`LAST_TIME`, not negative, and at most ``ahead``
    seconds after now when that is given; ValueError otherwise (validators call this)."""
    if not 0 <= value <= LAST_TIME:
        raise ValueError("a time out of range")
    if ahead is not None and value > float(context_of(info)["now"]) + ahead:
        raise ValueError(f"a time more than {ahead:g} s ahead")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"a number out of range ({text[:20]})")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not a number a state file may hold")


def parse_json(data: bytes) -> Any:
    """``data`` as JSON: Unusable when it is not UTF-8 JSON, holds NaN or an infinite
    number, or is nested too deep to parse."""
    try:
        return json.loads(data.decode("utf-8"), parse_float=_finite, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise Unusable("it is not text (UTF-8)") from None
    except RecursionError:
        raise Unusable("it is nested too deep") from None
    except ValueError as exc:
        raise Unusable(f"it is not JSON ({str(exc)[:120]})") from None


def validate(model: type[M], data: Any, context: Mapping[str, Any]) -> M:
    """``data`` as ``model`` (``context``: see :func:`context_of`); Unusable says what is
    wrong."""
    try:
        return model.model_validate(data, context=context)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "the content"
        raise Unusable(f"{where}: {first['msg']}") from None
    except RecursionError:
        raise Unusable("it is nested too deep") from None


def read_bytes(path: Path, *, max_bytes: int = MAX_BYTES) -> bytes | None:
    """The content of the state file ``path`` (None when there is none); Unusable when
    it is a link, not a regular file, owned by someone else, or larger than ``max_bytes``."""
    try:
        fd = open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)  # never wait on a FIFO
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.strerror == A_LINK:
            raise Unusable("it is a symbolic link, which ddnsd never follows") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unusable("it is not a regular file")
        owners = {os.geteuid()}
        with contextlib.suppress(OSError):
            owners.add(os.stat(path.parent).st_uid)
        if st.st_uid not in owners:
            raise Unusable(f"it belongs to uid {st.st_uid}, not to the state directory's owner")
        if st.st_size > max_bytes:
            raise Unusable(f"it is larger than {max_bytes} bytes")
        # the file as fstat saw it: a buffer of its size, not of the cap (a 1 MiB buffer
        # for every read of a small file, every round, only churns the allocator)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(st.st_size)
    finally:
        os.close(fd)


def set_aside(path: Path, why: str, advice: str) -> Path | None:
    """Rename the unusable state file ``path`` to ``NAME.corrupt-<UTC time>`` (a link is
    renamed itself, never its target) and warn once, naming it; the new path (None when
    another process moved it first, or it cannot be moved: then it is left in place)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while os.path.lexists(dest):
        n += 1
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    try:
        os.rename(path, dest)
    except FileNotFoundError:
        return None  # another process set it aside meanwhile
    except OSError as exc:
        log.warning(
            "%s is unusable (%s) and cannot be set aside (%s); %s, then remove it",
            path,
            why,
            exc.strerror,
            advice,
        )
        return None
    log.warning("set aside %s as %s: %s; %s", path, dest.name, why, advice)
    return dest


def read_back(
    path: Path,
    model: type[M],
    *,
    advice: str,
    max_bytes: int = MAX_BYTES,
    context: Mapping[str, Any] | None = None,
) -> M | None:
    """The state file ``path`` as ``model``; None when there is none, or when it was
    unusable and is set aside (:func:`set_aside`, ``advice`` says what the operator may
    do). ``context`` for the model's validators, ``now`` (default: the wall clock) in it.
    OSError when it cannot be read at all (the callers say what that means)."""
    try:
        data = read_bytes(path, max_bytes=max_bytes)
        if data is None:
            return None
        judged = {"now": time.time(), **(context or {})}
        return validate(model, parse_json(data), judged)
    except Unusable as exc:
        set_aside(path, str(exc), advice)
        return None
