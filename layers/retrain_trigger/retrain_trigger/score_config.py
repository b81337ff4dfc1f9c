"""A monitor's `score` key: how one score is computed from many features' drift values.

Its own module because the configuration's own file is full; it sits beside config.py at the bottom of the import
graph (pydantic and the pure-Python combine only). The combining itself is `retrain_trigger_drift.combine`, the one
the ScoreFunction uses, so the evaluator and the data side cannot disagree.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from retrain_trigger_drift.combine import How

FEATURE_PLACEHOLDER = "{feature}"
MODEL_MONITOR_METRIC = "feature_baseline_drift_{feature}"  # what SageMaker Model Monitor emits per feature


class ScoreFieldError(ValueError):
    """A rule across the `score` key's fields broken; `field` is the one to blame (config names it)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(problem)


def _finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not math.isfinite(value):
        raise ScoreFieldError(name, f"{value!r} is not a finite number")


class ScoreConfig(BaseModel):
    """`{"combine": ..., "features": [...] | "*", "feature_threshold": 0.1, "weights": {...},
    "critical_features": [...]}`: see docs/configuration.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    combine: How = "max"
    features: tuple[str, ...] | Literal["*"] = "*"
    feature_threshold: float | dict[str, float] = 0.1
    weights: dict[str, float] = Field(default_factory=dict)
    critical_features: tuple[str, ...] = ()
    feature_metric: str = MODEL_MONITOR_METRIC  # the CloudWatch source's metric per feature

    @field_validator("features", mode="before")
    @classmethod
    def _feature_names(cls, value: object) -> object:
        # One clear message instead of pydantic's one per member of the union.
        if value == "*" or (isinstance(value, list | tuple) and all(isinstance(name, str) for name in value)):
            return value
        raise ValueError('must be a list of feature names, or "*" for every feature')

    @field_validator("feature_threshold", mode="before")
    @classmethod
    def _thresholds(cls, value: object) -> object:
        def number(item: object) -> bool:
            return isinstance(item, int | float) and not isinstance(item, bool)

        if number(value) or (isinstance(value, dict) and all(number(v) for v in value.values())):
            return value
        raise ValueError("must be a number, or an object of one number per feature")

    @model_validator(mode="after")
    def _coherent(self) -> ScoreConfig:
        listed = None if self.features == "*" else self.features
        if listed is not None:
            if not listed:
                raise ScoreFieldError("features", 'must name at least one feature, or be "*" for every one')
            if len(set(listed)) != len(listed) or not all(listed):
                raise ScoreFieldError("features", "each feature must be a non-empty name, named once")
        thresholds = self.feature_threshold
        for name, value in thresholds.items() if isinstance(thresholds, dict) else [("", thresholds)]:
            _finite(f"feature_threshold.{name}".rstrip("."), value)
        for name, value in self.weights.items():
            _finite(f"weights.{name}", value)
            if value < 0:
                raise ScoreFieldError(f"weights.{name}", "a weight (a feature importance) must not be negative")
        if self.combine == "weighted":
            if not self.weights or not any(self.weights.values()):
                raise ScoreFieldError("weights", "combine 'weighted' needs a positive weight for the features")
            unweighted = [name for name in listed or () if name not in self.weights]
            if unweighted:
                raise ScoreFieldError("weights", f"combine 'weighted' needs a weight for {', '.join(unweighted)}")
        elif self.weights:
            raise ScoreFieldError("weights", f"only combine 'weighted' reads weights, not {self.combine!r}")
        if listed is not None:
            for key, names in (
                ("critical_features", self.critical_features),
                ("weights", tuple(self.weights)),
                ("feature_threshold", tuple(thresholds) if isinstance(thresholds, dict) else ()),
            ):
                unknown = [name for name in names if name not in listed]
                if unknown:
                    raise ScoreFieldError(key, f"{', '.join(unknown)} not among the features")
        unset = [name for name in self.critical_features if isinstance(thresholds, dict) and name not in thresholds]
        if unset:
            raise ScoreFieldError("feature_threshold", f"no threshold for the critical feature {', '.join(unset)}")
        if FEATURE_PLACEHOLDER not in self.feature_metric:
            raise ScoreFieldError("feature_metric", f"must contain {FEATURE_PLACEHOLDER}, e.g. {MODEL_MONITOR_METRIC}")
        return self

    def threshold(self, feature: str) -> float:
        """The level above which `feature` counts as drifted (strictly above, as the monitor's levels)."""
        thresholds = self.feature_threshold
        return thresholds.get(feature, math.inf) if isinstance(thresholds, dict) else thresholds

    def metric_names(self) -> dict[str, str]:
        """Feature -> its CloudWatch metric name (listed features only: CloudWatch has no "every feature")."""
        listed = () if self.features == "*" else self.features
        return {name: self.feature_metric.replace(FEATURE_PLACEHOLDER, name) for name in listed}

    def source_problem(self, source_type: str) -> str | None:
        """Why this `score` cannot be read from a source of `source_type` (None: it can)."""
        if source_type == "cloudwatch" and self.features == "*":
            return 'the CloudWatch source reads named metrics: list the features instead of "*"'
        return None
