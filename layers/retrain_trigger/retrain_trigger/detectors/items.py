"""What every reader builds: score items in the score table's layout (see score_items.py), and the one error a
malformed file raises, naming the file and the field (or row) at fault."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from retrain_trigger.score_items import RESERVED, feature_attribute


class DetectorFileError(ValueError):
    """A detector's file that cannot be read as scores. Names the file and the field, key path or row at fault."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: field {field!r}: {problem}")

    def as_dict(self) -> dict[str, str]:
        return {"file": self.source, "field": self.field, "problem": self.problem}


@dataclass(frozen=True)
class ScoreItem:
    """One datapoint of one monitor: the detector's dataset-level figure and its per-feature values."""

    monitor_id: str
    at: datetime
    drift_score: float
    features: Mapping[str, float] = field(default_factory=dict)
    sample_count: int | None = None
    drifted: tuple[str, ...] = ()
    method: str = ""

    @property
    def timestamp(self) -> str:
        """UTC in the score table's sortable form; the fraction only where the detector gave one."""
        at = self.at.astimezone(UTC)
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if at.microsecond else "%Y-%m-%dT%H:%M:%SZ")

    def as_item(self) -> dict[str, Any]:
        """The DynamoDB item (numbers as Decimal). The same file gives the same item, to the last digit."""
        item: dict[str, Any] = {
            "monitor_id": self.monitor_id,
            "timestamp": self.timestamp,
            "drift_score": _decimal(self.drift_score),
        }
        if self.sample_count is not None:
            item["sample_count"] = self.sample_count
        if self.method:
            item["drift_method"] = self.method
        if self.drifted:
            item["drifted"] = list(self.drifted)
        for name, value in sorted(self.features.items()):
            item[feature_attribute(name)] = _decimal(value)
        return item

    def as_json(self) -> dict[str, Any]:
        """The item as one JSON object: what `retrain-trigger ingest` prints."""
        return {k: float(v) if isinstance(v, Decimal) else v for k, v in self.as_item().items()}


def _decimal(value: float) -> Decimal:
    # repr of the rounded float: a stable text, so a file read twice writes byte-equal numbers
    return Decimal(repr(round(value, 10)))


def number(source: str, where: str, value: object) -> float:
    """A finite number, from JSON or a table cell; anything else names where it was found."""
    if isinstance(value, bool):
        raise DetectorFileError(source, where, f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise DetectorFileError(source, where, f"expected a number, got {value!r}") from None
    else:
        raise DetectorFileError(source, where, f"expected a number, got {value!r}")
    if not math.isfinite(result):
        raise DetectorFileError(source, where, f"expected a finite number, got {value!r}")
    return result


def utc_time(source: str, where: str, value: object) -> datetime:
    """An ISO-8601 time with a timezone (or a datetime), in UTC. A time without a zone is refused: read as UTC it
    could be hours off, and the evaluator would decide on the wrong datapoint."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        text = value.strip()
        text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise DetectorFileError(source, where, f"not an ISO-8601 time: {value!r}") from None
    else:
        raise DetectorFileError(source, where, f"expected an ISO-8601 time, got {value!r}")
    if at.tzinfo is None:
        raise DetectorFileError(source, where, f"{value!r} has no timezone: write UTC (…Z) or an offset")
    return at.astimezone(UTC)


def feature_name(source: str, where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DetectorFileError(source, where, f"expected a feature name, got {value!r}")
    return value


def largest(features: Mapping[str, float]) -> float:
    """The score where the report has no dataset-level figure of its own: its largest per-feature value."""
    return max(features.values())


def is_reserved(name: str) -> bool:
    return name in RESERVED
