"""Durations as the configuration writes them: '90s', '15m', '6h', '1d', '2w', ISO 8601 ('PT6H') or plain seconds.

Its own module, below `config` and `maintenance_config`, so both read durations one way without importing each other.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_COMPACT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([smhdw])\s*$")  # a sign is read, so the check can name it
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def not_boolean(value: Any) -> Any:
    # pydantic's lax mode reads true as 1 (and 1.0, and one second): never what a JSON `true` meant here.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _compact_duration(value: Any) -> Any:
    """Accept '90s', '15m', '6h', '1d', '2w' besides pydantic's ISO 8601 ('PT6H') and plain seconds."""
    not_boolean(value)
    if isinstance(value, str) and (match := _COMPACT.match(value)):
        return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def _positive(value: timedelta) -> timedelta:
    _not_negative(value)
    if value == timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[timedelta, BeforeValidator(_compact_duration), AfterValidator(_not_negative)]  # 0 allowed
PositiveDuration = Annotated[timedelta, BeforeValidator(_compact_duration), AfterValidator(_positive)]
