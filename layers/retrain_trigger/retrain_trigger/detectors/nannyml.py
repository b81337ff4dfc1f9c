"""NannyML's results, `results.filter(period="analysis").to_df(multilevel=False)` exported to CSV or Parquet (one
calculator's, or several joined on their chunk columns). One row per chunk, one item per analysis chunk:
- `<column>_<method>_value` (univariate drift: jensen_shannon, kolmogorov_smirnov, wasserstein, hellinger,
  l_infinity, chi2) is the feature `<column>` (`<column>_<method>` when a column has several methods);
- `reconstruction_error_value` / `domain_classifier_auroc_value` (multivariate drift), when present, is the
  item's drift_score; else the largest feature value is;
- any other `<metric>_value` (CBPE's estimated performance: roc_auc, f1, ...) is written as `estimated_<metric>`:
  a figure to guard on, not a drift value, so it never makes the drift_score;
- the time is the chunk's end, `chunk_end_date`, rounded up to the second (NannyML writes 23:59:59.999999999 for
  a day). NannyML drops the timezone when it chunks by period, so a date without one is read as UTC;
- sample_count is the chunk's rows, chunk_end_index - chunk_start_index + 1."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from retrain_trigger.detectors.items import DetectorFileError, ScoreItem, largest, number

DRIFT_METHODS = ("jensen_shannon", "kolmogorov_smirnov", "wasserstein", "hellinger", "l_infinity", "chi2")
MULTIVARIATE = ("reconstruction_error", "domain_classifier_auroc")
VALUE = "_value"
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}:\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def read_results(rows: Sequence[dict[str, Any]], source: str, monitor_id: str) -> list[ScoreItem]:
    if not rows:
        raise DetectorFileError(source, "(rows)", "no rows: expected a NannyML results table")
    columns = list(rows[0])
    if "chunk_end_date" not in columns:
        raise DetectorFileError(
            source, "chunk_end_date", "missing: chunk by time (give the calculator timestamp_column_name)"
        )
    drift, multivariate, estimated = _measures(columns)
    if not drift and not multivariate:
        raise DetectorFileError(source, "(columns)", "no drift column: expected <column>_<method>_value")
    items = []
    for index, row in enumerate(rows, start=1):
        if row.get("chunk_period") == "reference":
            continue  # the reference chunks are the baseline itself, not a datapoint
        where = f"row {index}"
        features = {name: number(source, f"{where}.{column}", row.get(column)) for column, name in drift.items()}
        extra = {name: number(source, f"{where}.{column}", row.get(column)) for column, name in estimated.items()}
        score = (
            number(source, f"{where}.{multivariate[0]}", row.get(multivariate[0]))
            if multivariate
            else largest(features)
        )
        items.append(
            ScoreItem(
                monitor_id,
                _chunk_end(source, f"{where}.chunk_end_date", row.get("chunk_end_date")),
                score,
                features | extra,
                _rows(source, where, row),
                method="nannyml",
            )
        )
    return items


def _measures(columns: list[str]) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """(drift column -> feature, multivariate columns, performance column -> attribute), from the column names."""
    by_feature: dict[str, list[tuple[str, str]]] = {}
    multivariate: list[str] = []
    estimated: dict[str, str] = {}
    for column in columns:
        if not column.endswith(VALUE) or column.startswith("chunk_"):
            continue
        stem = column.removesuffix(VALUE)
        method = next((m for m in DRIFT_METHODS if stem.endswith("_" + m)), None)
        if stem in MULTIVARIATE:
            multivariate.append(column)
        elif method:
            by_feature.setdefault(stem.removesuffix("_" + method), []).append((column, stem))
        else:
            estimated[column] = f"estimated_{stem}"
    drift = {
        column: (feature if len(found) == 1 else stem)
        for feature, found in by_feature.items()
        for column, stem in found
    }
    return drift, multivariate, estimated


def _chunk_end(source: str, where: str, value: object) -> datetime:
    """The chunk's end, rounded up to the second: NannyML writes nanoseconds, which Python's datetime cannot hold."""
    if isinstance(value, datetime):  # from Parquet
        at, fraction = value.replace(microsecond=0), value.microsecond > 0
    elif isinstance(value, str) and (found := _DATE.match(value.strip())):
        day, clock, digits, zone = found.groups()
        try:
            at = datetime.fromisoformat(f"{day}T{clock or '00:00:00'}{'+00:00' if zone in (None, 'Z') else zone}")
        except ValueError:
            raise DetectorFileError(source, where, f"not a date: {value!r}") from None
        fraction = bool(digits and digits.strip(".0"))
    else:
        raise DetectorFileError(source, where, f"expected the chunk's end date, got {value!r}")
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return (at + timedelta(seconds=1) if fraction else at).astimezone(UTC)


def _rows(source: str, where: str, row: dict[str, Any]) -> int | None:
    start, end = row.get("chunk_start_index"), row.get("chunk_end_index")
    if start is None or end is None:
        return None
    count = number(source, f"{where}.chunk_end_index", end) - number(source, f"{where}.chunk_start_index", start) + 1
    if count < 1 or not math.isclose(count, round(count)):
        raise DetectorFileError(source, f"{where}.chunk_end_index", f"not a chunk's last row: {end!r} (from {start!r})")
    return round(count)
