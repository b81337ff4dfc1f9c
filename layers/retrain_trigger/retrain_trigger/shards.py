"""A shard as a queue message: JSON with the tick's time (UTC, ISO 8601) and the monitor ids. Pure: no AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, ValidationError

from retrain_trigger.errors import BadInput
from retrain_trigger.ports import Shard

MonitorIds = tuple[str, ...]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class _ShardMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    now: Annotated[AwareDatetime, AfterValidator(_utc)]
    due: MonitorIds
    waiting: MonitorIds = ()


def encode(shard: Shard) -> str:
    return json.dumps({"now": shard.now.isoformat(), "due": shard.due, "waiting": shard.waiting})


def decode(text: str) -> Shard:
    """The shard a message carries; BadInput names the field of a malformed one."""
    try:
        message = _ShardMessage.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(message)"
        raise BadInput("*", f"shard.{field}", first["msg"]) from error
    return Shard(now=message.now, due=message.due, waiting=message.waiting)
