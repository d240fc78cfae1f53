"""Field types the configuration's models share: durations, domain names, listen addresses,
address sources.

Used by :mod:`ddnsd.config.models` and the section modules beside it
(:mod:`ddnsd.config.acme`, :mod:`ddnsd.config.operator`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
)
from pydantic_core import core_schema

from ddnsd import durations, names
from ddnsd.detect.spec import SourceSpec, parse_source
from ddnsd.hostport import parse_listen


def parse_duration(value: object) -> float:
    """A duration in seconds (see :func:`ddnsd.durations.parse_duration`)."""
    return durations.parse_duration(value)


def parse_duration_or_zero(value: object) -> float:
    """A duration in seconds where 0 means none (``jitter = 0``)."""
    return durations.parse_duration(value, allow_zero=True)


def parse_token_lifetime(value: object) -> str:
    """A TransIP phrase ("1 hour") or a duration ("1h", 3600) → the phrase to send."""
    return durations.token_lifetime(value)[0]


def parse_name(value: object) -> str:
    """A domain name as :func:`ddnsd.names.domain_name` has it (lower case, no trailing dot)."""
    if not isinstance(value, str):
        raise ValueError("expected a domain name in quotes")
    return names.domain_name(value)


def check_listen(value: str) -> str:
    """``ADDRESS:PORT`` as :func:`ddnsd.hostport.parse_listen` reads it, or "" (off)."""
    if value:
        parse_listen(value)
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
DurationOrZero = Annotated[float, BeforeValidator(parse_duration_or_zero)]
DomainName = Annotated[str, BeforeValidator(parse_name)]
TokenLifetime = Annotated[str, BeforeValidator(parse_token_lifetime)]
#: A listen address, or "" for off.
Listen = Annotated[str, AfterValidator(check_listen)]
#: A source string in the file and in dumps; a parsed :class:`SourceSpec` in between.
Source = Annotated[
    SourceSpec,
    GetPydanticSchema(
        lambda _type, _handler: core_schema.no_info_after_validator_function(
            parse_source,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )
    ),
]


def sources(*texts: str, description: str) -> Any:
    return Field(default_factory=lambda: [parse_source(t) for t in texts], description=description)


class Section(BaseModel):
    """A TOML section: unknown keys are errors; settings never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
