"""The long layout any detector can write: one row per (monitor_id, timestamp, metric, value), in CSV, JSON lines or
Parquet. The rows of one (monitor, timestamp) make one item: metric `drift_score` is its score (else the largest
feature value), `sample_count` its sample count, every other metric a feature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from retrain_trigger.detectors.items import DetectorFileError, ScoreItem, is_reserved, largest, number, utc_time

COLUMNS = ("monitor_id", "timestamp", "metric", "value")
SCORE, SAMPLES = "drift_score", "sample_count"


def read_long(rows: Sequence[dict[str, Any]], source: str, monitor_id: str | None) -> list[ScoreItem]:
    """The items, ordered by monitor and time. With `monitor_id` given, every row must be that monitor's: a file
    that mixes monitors where one was named is more likely a mistake than a wish to drop rows."""
    if not rows:
        raise DetectorFileError(source, "(rows)", f"no rows: expected columns {', '.join(COLUMNS)}")
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        raise DetectorFileError(source, missing[0], f"missing column; expected {', '.join(COLUMNS)}")
    groups: dict[tuple[str, datetime], dict[str, float]] = {}
    for index, row in enumerate(rows, start=1):
        where = f"row {index}"
        monitor = row.get("monitor_id")
        if not isinstance(monitor, str) or not monitor:
            raise DetectorFileError(source, f"{where}.monitor_id", f"expected a monitor id, got {monitor!r}")
        if monitor_id is not None and monitor != monitor_id:
            raise DetectorFileError(source, f"{where}.monitor_id", f"{monitor!r} is not the monitor {monitor_id!r}")
        at = utc_time(source, f"{where}.timestamp", row.get("timestamp"))
        metric = row.get("metric")
        if not isinstance(metric, str) or not metric:
            raise DetectorFileError(source, f"{where}.metric", f"expected a metric name, got {metric!r}")
        if is_reserved(metric) and metric not in (SCORE, SAMPLES):
            raise DetectorFileError(source, f"{where}.metric", f"{metric!r} is the item's own attribute, not a metric")
        metrics = groups.setdefault((monitor, at), {})
        if metric in metrics:
            raise DetectorFileError(source, f"{where}.metric", f"{metric!r} given twice for {monitor} at {at}")
        metrics[metric] = number(source, f"{where}.value", row.get("value"))
    return [_item(source, monitor, at, metrics) for (monitor, at), metrics in sorted(groups.items())]


def _item(source: str, monitor: str, at: datetime, metrics: dict[str, float]) -> ScoreItem:
    features = {k: v for k, v in metrics.items() if k not in (SCORE, SAMPLES)}
    if SCORE not in metrics and not features:
        raise DetectorFileError(source, "metric", f"{monitor} at {at.isoformat()}: no drift_score and no feature")
    samples = metrics.get(SAMPLES)
    if samples is not None and (samples < 0 or samples != int(samples)):
        raise DetectorFileError(source, "sample_count", f"{monitor} at {at.isoformat()}: not a count: {samples!r}")
    score = metrics[SCORE] if SCORE in metrics else largest(features)
    return ScoreItem(monitor, at, score, features, None if samples is None else int(samples))
