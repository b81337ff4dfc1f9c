"""A shard as a queue message: JSON with the tick's time (UTC, ISO 8601) and the monitor ids. Pure: no AWS, and no
pydantic model (building one costs milliseconds of every cold start)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from retrain_trigger.errors import BadInput
from retrain_trigger.ports import Shard


def encode(shard: Shard) -> str:
    return json.dumps({"now": shard.now.isoformat(), "due": shard.due, "waiting": shard.waiting})


def _ids(message: dict[str, Any], field: str) -> tuple[str, ...]:
    value = message.get(field, [])
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise BadInput("*", f"shard.{field}", "must be a list of monitor ids")
    return tuple(value)


def decode(text: str) -> Shard:
    """The shard a message carries; BadInput names the field of a malformed one."""
    try:
        message = json.loads(text)
    except ValueError as error:
        raise BadInput("*", "shard.(message)", f"not JSON: {error}") from error
    if not isinstance(message, dict) or set(message) - {"now", "due", "waiting"}:
        raise BadInput("*", "shard.(message)", "must be an object with now, due and waiting")
    try:
        now = datetime.fromisoformat(str(message["now"]))
    except (KeyError, ValueError) as error:
        raise BadInput("*", "shard.now", "must be an ISO-8601 time with a timezone") from error
    if now.tzinfo is None:
        raise BadInput("*", "shard.now", "must be an ISO-8601 time with a timezone")
    if "due" not in message:
        raise BadInput("*", "shard.due", "missing")
    return Shard(now=now.astimezone(UTC), due=_ids(message, "due"), waiting=_ids(message, "waiting"))
