"""Evidently's data drift report, as saved with `save_json`:
- 0.7 (`Report([DataDriftPreset()]).run(...)` then `save_json`): a `metrics` list of {metric_name, config, value};
  `DriftedColumnsCount` holds value.count and value.share (the drifted share: the item's drift_score), and one
  `ValueDrift` per column holds config.column, config.method, config.threshold and its value (the feature's value).
  The file holds no time: the caller gives it (the S3 key's date, or --time).
- 0.4 legacy (`evidently.legacy.report.Report` with `DataDriftPreset`): `DataDriftTable`'s result holds
  share_of_drifted_columns and drift_by_columns[col].drift_score; the report's `timestamp` is the item's time.

A ValueDrift's value is a distance (larger: more drift) or, for a statistical test ("... p_value"), a p-value
(smaller: more drift); Evidently's own rule decides `drifted`, and the drifted share does not depend on which."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from retrain_trigger.detectors.items import DetectorFileError, ScoreItem, feature_name, largest, number, utc_time

METHOD = "evidently"


def read_snapshot(
    data: bytes, source: str, monitor_id: str, at: datetime | None, default_at: datetime | None = None
) -> list[ScoreItem]:
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DetectorFileError(source, "(file)", f"not JSON: {error}") from None
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(metrics, list):
        raise DetectorFileError(source, "metrics", "expected the report's list of metrics (a file save_json wrote)")
    legacy = [m for m in metrics if isinstance(m, dict) and m.get("metric") == "DataDriftTable"]
    if legacy:
        return [_legacy(source, monitor_id, at, default_at, document, legacy[0])]
    return [_current(source, monitor_id, at or default_at, metrics)]


def _kind(metric: dict[str, Any]) -> str:
    config = metric.get("config")
    kind = str(config.get("type", "")) if isinstance(config, dict) else ""
    return kind.rpartition(":")[2] or str(metric.get("metric_name", "")).partition("(")[0]


def _is_p_value(method: str) -> bool:
    return "p_value" in method


def _current(source: str, monitor_id: str, at: datetime | None, metrics: list[Any]) -> ScoreItem:
    share: float | None = None
    features: dict[str, float] = {}
    drifted: list[str] = []
    p_values = False
    for index, metric in enumerate(metrics):
        where = f"metrics[{index}]"
        if not isinstance(metric, dict):
            raise DetectorFileError(source, where, "expected an object")
        kind = _kind(metric)
        if kind == "DriftedColumnsCount":
            value = metric.get("value")
            if not isinstance(value, dict):
                raise DetectorFileError(source, f"{where}.value", "expected {count, share}")
            share = number(source, f"{where}.value.share", value.get("share"))
            number(source, f"{where}.value.count", value.get("count"))
        elif kind == "ValueDrift":
            found = metric.get("config")
            config: dict[str, Any] = found if isinstance(found, dict) else {}
            column = feature_name(source, f"{where}.config.column", config.get("column"))
            if column in features:
                raise DetectorFileError(source, f"{where}.config.column", f"{column!r} has a ValueDrift already")
            method = str(config.get("method", ""))
            value = number(source, f"{where}.value", metric.get("value"))
            threshold = number(source, f"{where}.config.threshold", config.get("threshold"))
            features[column] = value
            p_values = p_values or _is_p_value(method)
            if (value < threshold) if _is_p_value(method) else (value >= threshold):
                drifted.append(column)
    if share is None and not features:
        raise DetectorFileError(
            source, "metrics", "no DriftedColumnsCount and no ValueDrift: save a report run with DataDriftPreset"
        )
    if share is None and p_values:
        raise DetectorFileError(
            source, "metrics", "no DriftedColumnsCount, and p-values cannot be combined by their largest: "
            "keep DataDriftPreset's DriftedColumnsCount in the report"
        )  # fmt: skip
    if at is None:
        raise DetectorFileError(source, "(time)", "an Evidently 0.7 report holds no time: give --time")
    score = share if share is not None else largest(features)
    return ScoreItem(monitor_id, at, score, features, drifted=tuple(sorted(drifted)), method=METHOD)


def _legacy(
    source: str,
    monitor_id: str,
    at: datetime | None,
    default_at: datetime | None,
    document: dict[str, Any],
    table: dict[str, Any],
) -> ScoreItem:
    where = f"metrics[{document['metrics'].index(table)}].result"
    result = table.get("result")
    columns = result.get("drift_by_columns") if isinstance(result, dict) else None
    if not isinstance(result, dict) or not isinstance(columns, dict):
        raise DetectorFileError(source, f"{where}.drift_by_columns", "expected DataDriftTable's columns")
    share = number(source, f"{where}.share_of_drifted_columns", result.get("share_of_drifted_columns"))
    features: dict[str, float] = {}
    drifted: list[str] = []
    for column, found in columns.items():
        if not isinstance(found, dict):
            raise DetectorFileError(source, f"{where}.drift_by_columns.{column}", "expected an object")
        features[column] = number(source, f"{where}.drift_by_columns.{column}.drift_score", found.get("drift_score"))
        if found.get("drift_detected") is True:
            drifted.append(column)
    if at is not None:
        when = at
    elif document.get("timestamp") is None and default_at is not None:
        when = default_at
    else:
        when = utc_time(source, "timestamp", document.get("timestamp"))
    return ScoreItem(monitor_id, when, share, features, drifted=tuple(sorted(drifted)), method=METHOD)
