"""A datapoint from a score item or metrics that carry many features: the monitor's `score` recomputed from the
features' values, the critical features above their threshold, and the rows it was computed on.

Pure: the sources hand in the values they read (DynamoDB attributes, CloudWatch metrics), already deserialised.
A bad value (a string, NaN, infinity, a missing listed feature) is BadInput naming the monitor and the field, so
the item is refused as a bad score is.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal

from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import BadInput
from retrain_trigger.model import Observation
from retrain_trigger.score_config import ScoreConfig
from retrain_trigger.score_items import ESTIMATE_PREFIX, RESERVED, feature_attribute
from retrain_trigger_drift.combine import CombineError, combine

SAMPLE_COUNT = "sample_count"


def attributes(monitor: MonitorConfig) -> tuple[str, ...] | None:
    """The item attributes a read must fetch besides the score and the guards; None: all of them (`"*"`)."""
    wanted: list[str] = [SAMPLE_COUNT] if monitor.min_samples is not None else []
    score = monitor.score
    if score is None:
        return tuple(wanted)
    if score.features == "*":
        return None
    return (*wanted, *(feature_attribute(name) for name in score.features))


def observe(
    monitor: MonitorConfig,
    at: datetime,
    values: Mapping[str, object],
    score_field: str,
    metrics: Mapping[str, object],
    not_features: Collection[str] = (),
) -> Observation:
    """The datapoint at `at` from one item's (or one instant's metrics') `values`. Without `score` the score is
    `values[score_field]`, as always; with it, the combined score of the features. `not_features`: attributes that
    `"*"` must not take for features (the guard metrics, the score attribute)."""
    score = monitor.score
    if score is None:
        if score_field not in values:
            raise BadInput(monitor.id, score_field, f"missing from the score item at {at.isoformat()}")
        observation = Observation.checked(monitor.id, at, values[score_field], metrics, score_field=score_field)
    else:
        features = feature_values(monitor.id, score, values, not_features)
        try:
            combined = combine(features, score.combine, score.feature_threshold, score.weights or None)
        except CombineError as error:  # e.g. "*" found no feature with a weight
            raise BadInput(monitor.id, "score", str(error)) from error
        base = Observation.checked(monitor.id, at, combined.score, metrics, score_field="score")
        observation = Observation(
            at=base.at,
            score=base.score,
            metrics=base.metrics,
            features=features,
            critical_features=combined.critical_breached(score.critical_features),
        )
    if monitor.min_samples is None:
        return observation
    count = values.get(SAMPLE_COUNT)
    if count is None:
        return observation  # the producer did not count its rows: judged on its score
    return Observation(
        at=observation.at,
        score=observation.score,
        metrics=observation.metrics,
        features=observation.features,
        critical_features=observation.critical_features,
        sample_count=_number(monitor.id, SAMPLE_COUNT, count, negative=False),
    )


def feature_values(
    monitor_id: str, score: ScoreConfig, values: Mapping[str, object], not_features: Collection[str] = ()
) -> dict[str, float]:
    """Feature name -> its value in `values` (keyed by attribute or metric name as `feature_attribute` names them)."""
    if score.features == "*":
        found: dict[str, float] = {}
        for name, value in values.items():
            if name in RESERVED or name in not_features or name.startswith(ESTIMATE_PREFIX):
                continue
            if isinstance(value, float) and not math.isfinite(value):  # a number, but no drift value
                raise BadInput(monitor_id, name, f"not a finite number: {value}")
            if _numeric(value):  # text, sets, booleans: other attributes of the item, not features
                found[_feature_name(name)] = _number(monitor_id, name, value)
        if not found:
            raise BadInput(monitor_id, "score.features", 'no numeric feature attribute in the score item for "*"')
        missing = [name for name in score.critical_features if name not in found]
        if missing:
            raise BadInput(monitor_id, feature_attribute(missing[0]), "a critical feature missing from the score item")
        return found
    features: dict[str, float] = {}
    for name in score.features:
        attribute = feature_attribute(name)
        if attribute not in values:
            raise BadInput(monitor_id, attribute, "a listed feature missing from the score item")
        features[name] = _number(monitor_id, attribute, values[attribute])
    return features


def _feature_name(attribute: str) -> str:
    name = attribute.removeprefix("feature_")
    return name if name in RESERVED and attribute != name else attribute


def _numeric(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    return math.isfinite(float(value))


def _number(monitor_id: str, field: str, value: object, *, negative: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise BadInput(monitor_id, field, f"not a number: {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise BadInput(monitor_id, field, f"not a finite number: {number}")
    if not negative and number < 0:
        raise BadInput(monitor_id, field, f"must not be negative: {number:g}")
    return number


def metric_names(monitor: MonitorConfig, score_metric: str) -> tuple[str, ...]:
    """The CloudWatch metrics a monitor's datapoints come from: its score's (or, with `score`, one per feature), then
    its guards'."""
    score = monitor.score
    scored = tuple(score.metric_names().values()) if score is not None else (score_metric,)
    return (*scored, *monitor.guard_metrics)


def from_metrics(
    monitor: MonitorConfig, score_metric: str, series: Mapping[str, Mapping[datetime, float]]
) -> tuple[Observation, ...]:
    """The newest `evaluation_periods` datapoints, oldest first, from each metric's values by time. With `score`, a
    datapoint is an instant at which any feature has a value, and every feature must have one then."""
    score = monitor.score
    by_feature = score.metric_names() if score is not None else {}
    times = set().union(*(series.get(metric, {}) for metric in by_feature.values())) if by_feature else set()
    if score is None:
        times = set(series.get(score_metric, {}))
    observations: list[Observation] = []
    for at in sorted(times)[-monitor.evaluation_periods :]:
        metrics = {name: series[name][at] for name in monitor.guard_metrics if at in series.get(name, {})}
        values: dict[str, object] = {}
        if score is None:
            values[score_metric] = series[score_metric][at]
        for feature, metric in by_feature.items():
            if at not in series.get(metric, {}):
                raise BadInput(monitor.id, metric, f"no datapoint at {at.isoformat()}, where other features have one")
            values[feature_attribute(feature)] = series[metric][at]
        observations.append(observe(monitor, at, values, score_metric, metrics))
    return tuple(observations)
