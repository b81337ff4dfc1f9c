"""One score from many features' drift values.

Pure Python on purpose: the evaluator imports this module for a monitor's `score` key, and the evaluator never loads
numpy. The data-side code (profile.py, metrics.py) is what needs numpy.

Contract::

    combine(features: Mapping[str, float], how, thresholds, weights, critical) -> Combined(score, drifted)

- `features`: feature name -> drift value (larger means more drift; PSI, JS, KS and normed Wasserstein all are).
- `how`: "max" (the largest value), "mean" (the plain mean), "share_drifted" (the share of features above their
  threshold: Evidently's dataset drift), "weighted" (the weighted mean, weights being feature importances).
- `thresholds`: one float for every feature, or a per-feature mapping (a feature missing from it is never drifted).
  "Above" is strict (`value > threshold`), as the monitor's levels are.
- `weights`: feature -> importance, for "weighted" only; a feature without a weight weighs 0. Weights must be
  non-negative and not all zero.
- `critical`: features that breach on their own: `Combined.critical_breached` names those above their threshold, and
  the caller treats any of them as a breach whatever the combined score.
- `drifted`: the names of the features above their threshold, the most drifting first (ties by name), so the first
  few are the "top drifting features" for logs and alerts.

A NaN value (a feature that could not be computed) is refused rather than skipped: a silently smaller mean is
worse than a clear error naming the feature.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Literal, NamedTuple, get_args

How = Literal["max", "mean", "share_drifted", "weighted"]
HOWS: tuple[str, ...] = get_args(How)


class CombineError(ValueError):
    """The features, thresholds or weights cannot give a score; the message names the field."""


class Combined(NamedTuple):
    score: float
    drifted: tuple[str, ...]

    def critical_breached(self, critical: Collection[str]) -> tuple[str, ...]:
        """The critical features above their threshold, in `drifted` order."""
        return tuple(name for name in self.drifted if name in critical)


def threshold_of(name: str, thresholds: float | Mapping[str, float]) -> float:
    if isinstance(thresholds, Mapping):
        return float(thresholds.get(name, math.inf))
    return float(thresholds)


def combine(
    features: Mapping[str, float],
    how: How | str,
    thresholds: float | Mapping[str, float],
    weights: Mapping[str, float] | None = None,
    critical: Collection[str] = (),
) -> Combined:
    """The combined score and the drifted features (see the module docstring for the contract)."""
    if how not in HOWS:
        raise CombineError(f"combine: {how!r} is not one of {', '.join(HOWS)}")
    if not features:
        raise CombineError("features: no feature to combine")
    for name, value in features.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            raise CombineError(f"features.{name}: {value!r} is not a number")
    unknown_critical = sorted(set(critical) - set(features))
    if unknown_critical:
        raise CombineError(f"critical_features: {', '.join(unknown_critical)} not among the features")
    drifted = tuple(
        sorted(
            (name for name, value in features.items() if value > threshold_of(name, thresholds)),
            key=lambda name: (-features[name], name),
        )
    )
    return Combined(score=_score(features, how, len(drifted), weights), drifted=drifted)


def _score(features: Mapping[str, float], how: str, drifted: int, weights: Mapping[str, float] | None) -> float:
    values = [float(v) for v in features.values()]
    if how == "max":
        return max(values)
    if how == "mean":
        return math.fsum(values) / len(values)
    if how == "share_drifted":
        return drifted / len(values)
    if not weights:
        raise CombineError("weights: combine 'weighted' needs feature weights")
    negative = sorted(name for name, w in weights.items() if not w >= 0)
    if negative:
        raise CombineError(f"weights.{negative[0]}: {weights[negative[0]]!r} is not a non-negative number")
    total = math.fsum(float(weights.get(name, 0.0)) for name in features)
    if total <= 0:
        raise CombineError("weights: no weight on any of the features")
    return math.fsum(float(weights.get(name, 0.0)) * float(value) for name, value in features.items()) / total


def top_features(features: Mapping[str, float], n: int = 3) -> list[tuple[str, float]]:
    """The `n` largest drift values, largest first (ties by name): what the decision log and alerts name."""
    return sorted(((name, float(v)) for name, v in features.items()), key=lambda item: (-item[1], item[0]))[:n]
