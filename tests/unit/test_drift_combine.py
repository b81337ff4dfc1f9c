"""combine: one monitor score from many features' drift values (the contract the `score` key relies on)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from retrain_trigger_drift.combine import CombineError, combine, top_features

FEATURES = {"age": 0.30, "income": 0.12, "region": 0.05, "tenure": 0.10}


def test_max_is_the_largest_feature_value() -> None:
    assert combine(FEATURES, "max", 0.1).score == 0.30


def test_mean_is_the_plain_mean_of_every_feature() -> None:
    assert combine(FEATURES, "mean", 0.1).score == pytest.approx((0.30 + 0.12 + 0.05 + 0.10) / 4)


def test_share_drifted_counts_features_strictly_above_their_threshold() -> None:
    # tenure sits exactly on 0.10: on the threshold is not above it, as the monitor's levels
    assert combine(FEATURES, "share_drifted", 0.1).score == 2 / 4
    assert combine(FEATURES, "share_drifted", 0.0999).score == 3 / 4


def test_weighted_is_the_importance_weighted_mean_and_unweighted_features_count_zero() -> None:
    result = combine(FEATURES, "weighted", 0.1, weights={"age": 3.0, "region": 1.0})
    assert result.score == pytest.approx((3 * 0.30 + 1 * 0.05) / 4)


def test_drifted_names_features_above_threshold_most_drifting_first() -> None:
    assert combine(FEATURES, "mean", 0.1).drifted == ("age", "income")


def test_per_feature_thresholds_apply_per_feature_and_a_missing_one_never_drifts() -> None:
    result = combine(FEATURES, "share_drifted", {"age": 0.5, "region": 0.01})
    assert result.drifted == ("region",)
    assert result.score == 1 / 4


def test_a_critical_feature_above_its_threshold_breaches_on_its_own_even_with_a_low_mean() -> None:
    features = {"a": 0.01, "b": 0.01, "c": 0.01, "key": 0.4}
    result = combine(features, "mean", 0.2, critical={"key"})
    assert result.score < 0.2
    assert result.critical_breached({"key"}) == ("key",)


def test_a_critical_feature_below_its_threshold_does_not_breach() -> None:
    assert combine(FEATURES, "max", 0.1).critical_breached({"region"}) == ()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"how": "median"}, "combine"),
        ({"features": {}}, "features"),
        ({"features": {"age": math.nan}}, "features.age"),
        ({"how": "weighted"}, "weights"),
        ({"how": "weighted", "weights": {"age": -1.0}}, "weights.age"),
        ({"how": "weighted", "weights": {"other": 1.0}}, "weights"),
        ({"critical": {"ghost"}}, "critical_features"),
    ],
)
def test_bad_input_is_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    call: dict[str, object] = {"features": FEATURES, "how": "mean", "thresholds": 0.1, **kwargs}
    with pytest.raises(CombineError, match=rf"^{field}"):
        combine(**call)  # type: ignore[arg-type]


def test_top_features_are_the_largest_first() -> None:
    assert top_features(FEATURES, 2) == [("age", 0.30), ("income", 0.12)]


def test_combine_imports_without_numpy() -> None:
    # the evaluator imports combine for the `score` key, and the evaluator never loads numpy
    code = "import sys, retrain_trigger_drift.combine; print('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
