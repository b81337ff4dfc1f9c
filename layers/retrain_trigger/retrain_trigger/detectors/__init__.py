"""Readers of drift detectors' output files (Evidently, SageMaker Model Monitor, NannyML, and a long table), each
turning one file into score items or refusing it whole with a DetectorFileError naming the file and the field.

Pure: json and csv from the standard library, no boto3, pandas or numpy (the Lambda stays light); Parquet only
through pyarrow, imported when a Parquet file is read."""

from __future__ import annotations

from datetime import datetime

from retrain_trigger.detectors.evidently import read_snapshot
from retrain_trigger.detectors.items import DetectorFileError, ScoreItem
from retrain_trigger.detectors.long import read_long
from retrain_trigger.detectors.model_monitor import read_violations
from retrain_trigger.detectors.nannyml import read_results
from retrain_trigger.detectors.tables import table_rows

FORMATS = ("evidently", "model-monitor", "nannyml", "long")


def read_items(
    fmt: str,
    data: bytes,
    source: str,
    monitor_id: str | None,
    at: datetime | None,
    default_at: datetime | None = None,
) -> list[ScoreItem]:
    """The file's items. `monitor_id` is required except for `long` (whose rows name theirs). The time of an
    Evidently or Model Monitor item: `at` when given, else the file's own (Evidently's legacy report has one), else
    `default_at`; nannyml and long items carry their own times."""
    if fmt not in FORMATS:
        raise DetectorFileError(source, "(format)", f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "long":
        items = read_long(table_rows(data, source), source, monitor_id)
    elif monitor_id is None:
        raise DetectorFileError(source, "(monitor)", f"a {fmt} file does not name its monitor: give one")
    elif fmt == "evidently":
        items = read_snapshot(data, source, monitor_id, at, default_at)
    elif fmt == "model-monitor":
        items = read_violations(data, source, monitor_id, at or default_at)
    else:
        items = read_results(table_rows(data, source), source, monitor_id)
    _no_duplicate_keys(items, source)
    return items


def _no_duplicate_keys(items: list[ScoreItem], source: str) -> None:
    # One item per (monitor, timestamp): BatchWriteItem refuses a batch naming a key twice, and one would be lost.
    seen: set[tuple[str, str]] = set()
    for item in items:
        key = (item.monitor_id, item.timestamp)
        if key in seen:
            raise DetectorFileError(source, "timestamp", f"two items of {key[0]} at {key[1]}")
        seen.add(key)


__all__ = ["FORMATS", "DetectorFileError", "ScoreItem", "read_items"]
