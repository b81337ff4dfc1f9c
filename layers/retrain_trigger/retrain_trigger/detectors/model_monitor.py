"""SageMaker Model Monitor's `constraint_violations.json`: a `violations` list of {feature_name,
constraint_check_type, description}. Only the drift kinds carry a figure:
- `baseline_drift_check`: "... distance: 0.38 exceeds threshold: 0.1" (the figure is the distance);
- `data_type_check`: "... Only 96.0% of data is Integral." (the figure is the share NOT of the baseline's type, 0.04).
Completeness, missing/extra column and categorical values checks are data quality, not drift: they are not read.

The file names only the features over their threshold, so a file with no drift violation scores 0.0 (below every
threshold, which is all it says). The file holds no time: the caller gives it (the S3 key's date, or --time)."""

from __future__ import annotations

import json
import re
from datetime import datetime

from retrain_trigger.detectors.items import DetectorFileError, ScoreItem, feature_name, largest, number

DRIFT = "baseline_drift_check"
DATA_TYPE = "data_type_check"
KNOWN = frozenset(
    {DRIFT, DATA_TYPE, "completeness_check", "missing_column_check", "extra_column_check", "categorical_values_check"}
)
_DISTANCE = re.compile(r"distance:\s*(\S+?)\s+exceeds threshold:\s*(\S+)", re.IGNORECASE)
_TYPED_SHARE = re.compile(r"only\s+(\S+?)\s*%\s+of data", re.IGNORECASE)


def read_violations(data: bytes, source: str, monitor_id: str, at: datetime | None) -> list[ScoreItem]:
    """One score item: per feature the largest drift figure of its violations, drift_score their largest."""
    if at is None:
        raise DetectorFileError(source, "(time)", "constraint_violations.json holds no time: give --time")
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DetectorFileError(source, "(file)", f"not JSON: {error}") from None
    violations = document.get("violations") if isinstance(document, dict) else None
    if not isinstance(violations, list):
        raise DetectorFileError(source, "violations", "expected a list of violations")
    features: dict[str, float] = {}
    for index, violation in enumerate(violations):
        where = f"violations[{index}]"
        if not isinstance(violation, dict):
            raise DetectorFileError(source, where, "expected an object")
        kind = violation.get("constraint_check_type")
        if kind not in KNOWN:
            raise DetectorFileError(source, f"{where}.constraint_check_type", f"unknown check {kind!r}")
        if kind not in (DRIFT, DATA_TYPE):
            continue
        name = feature_name(source, f"{where}.feature_name", violation.get("feature_name"))
        value = _figure(source, f"{where}.description", kind, violation.get("description"))
        features[name] = max(value, features.get(name, value))
    drifted = tuple(sorted(features))
    return [
        ScoreItem(
            monitor_id,
            at,
            largest(features) if features else 0.0,
            features,
            drifted=drifted,
            method="model-monitor",
        )
    ]


def _figure(source: str, where: str, kind: str, description: object) -> float:
    if not isinstance(description, str):
        raise DetectorFileError(source, where, f"expected the check's description, got {description!r}")
    distance = _DISTANCE.search(description)
    if distance:
        return number(source, where, distance.group(1))
    typed = _TYPED_SHARE.search(description) if kind == DATA_TYPE else None
    if typed:
        return round(1.0 - number(source, where, typed.group(1)) / 100.0, 10)
    expected = "'distance: X exceeds threshold: Y'" + (" or 'Only X% of data'" if kind == DATA_TYPE else "")
    raise DetectorFileError(source, where, f"no figure in {description!r}: expected {expected}")
