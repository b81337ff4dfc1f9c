"""The score table item's layout, shared by everything that writes one (ScoreFunction, ingest) and the evaluator.

An item is `monitor_id`, `timestamp`, `drift_score`, optionally `sample_count`, and one attribute per feature,
named after the feature. A feature whose name is one of the item's own attributes is written as `feature_<name>`.
Attributes named `estimated_<metric>` hold a detector's performance estimates: `"features": "*"` never takes them.
"""

from __future__ import annotations

# A detector's performance estimates written beside the features (NannyML's CBPE: `estimated_roc_auc`), never drift.
ESTIMATE_PREFIX = "estimated_"
# the item's own attributes: never a feature's value
RESERVED = frozenset({"monitor_id", "timestamp", "drift_score", "sample_count", "drift_method", "drifted", "unscored"})


def feature_attribute(name: str) -> str:
    """The attribute that holds feature `name`'s value."""
    return f"feature_{name}" if name in RESERVED else name
