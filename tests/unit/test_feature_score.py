"""A monitor's score from many features (`score`), and `min_samples`: the item is read into a datapoint
(`features.observe`) and decided by the engine. No AWS anywhere in here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from retrain_trigger.config import parse_catalog
from retrain_trigger.errors import BadInput
from retrain_trigger.features import from_metrics, metric_names, observe
from retrain_trigger.messages import alert
from retrain_trigger.model import MonitorState, Status
from retrain_trigger.policy import evaluate

from .scenario import day, monitor, read, scored

ITEM = {"age": Decimal("0.05"), "income": Decimal("0.30"), "tenure": Decimal("0.10"), "plan": Decimal("0.02")}


class TestCombine:
    """Each `combine` recomputes the score from the item's features; the item's own drift_score is not read."""

    def test_max_takes_the_largest_feature(self) -> None:
        assert read(scored(combine="max"), {**ITEM, "drift_score": Decimal("0.99")}).score == pytest.approx(0.30)

    def test_mean_takes_the_plain_mean(self) -> None:
        assert read(scored(combine="mean"), ITEM).score == pytest.approx((0.05 + 0.30 + 0.10 + 0.02) / 4)

    def test_share_drifted_is_the_share_of_features_strictly_above_their_threshold(self) -> None:
        assert read(scored(combine="share_drifted"), ITEM).score == pytest.approx(2 / 4)  # income, tenure
        at_threshold = {**ITEM, "tenure": Decimal("0.08")}
        assert read(scored(combine="share_drifted"), at_threshold).score == pytest.approx(1 / 4)

    def test_weighted_is_the_importance_weighted_mean(self) -> None:
        config = scored(combine="weighted", weights={"age": 1, "income": 3, "tenure": 0, "plan": 0})

        assert read(config, ITEM).score == pytest.approx((0.05 * 1 + 0.30 * 3) / 4)

    def test_every_numeric_attribute_but_the_item_own_and_the_guards_is_a_feature_with_star(self) -> None:
        config = monitor(score={"features": "*", "combine": "mean"}, guards=[{"metric": "accuracy", "below": 0.9}])
        values = {**ITEM, "drift_score": Decimal("0.9"), "sample_count": Decimal(500), "accuracy": Decimal("0.5")}

        observation = observe(config, day(0), {**values, "model": "v3"}, "drift_score", {}, ("drift_score", "accuracy"))

        assert set(observation.features) == {"age", "income", "tenure", "plan"}
        assert observation.score == pytest.approx((0.05 + 0.30 + 0.10 + 0.02) / 4)

    def test_a_detectors_performance_estimates_are_never_features_with_star(self) -> None:
        config = monitor(score={"features": "*", "combine": "max"})

        observation = read(config, {"age": Decimal("0.1"), "estimated_roc_auc": Decimal("0.93")})

        assert observation.features == {"age": 0.1}
        assert observation.score == pytest.approx(0.1)

    def test_a_feature_named_like_an_item_attribute_is_read_from_its_feature_attribute(self) -> None:
        config = monitor(score={"features": ["timestamp", "age"]})

        observation = read(config, {"feature_timestamp": Decimal("0.4"), "age": Decimal("0.1")})

        assert observation.features == {"timestamp": 0.4, "age": 0.1}

    def test_a_score_over_the_critical_level_opens_an_episode_and_names_the_top_features(self) -> None:
        config = scored(combine="max")

        decision = evaluate(config, MonitorState(monitor_id=config.id), [read(config, ITEM)], day(0), "v1")

        assert decision.state.status is Status.RETRAINING
        assert decision.features == (("income", 0.30), ("tenure", 0.10), ("age", 0.05))
        assert decision.as_log()["top_features"] == [
            {"feature": "income", "value": 0.30},
            {"feature": "tenure", "value": 0.10},
            {"feature": "age", "value": 0.05},
        ]
        assert decision.new_actions[0].notice.features == decision.features

    def test_the_alert_body_names_the_top_features_with_their_values(self) -> None:
        config = scored({"guards": [{"metric": "acc", "below": 0}]}, combine="max")
        observation = observe(config, day(0), {**ITEM, "acc": Decimal(1)}, "drift_score", {"acc": 1}, ("acc",))

        decision = evaluate(config, MonitorState(monitor_id=config.id), [observation], day(0), "v1")
        sent = alert(config, decision.state, decision.new_actions[0], "v1")

        assert "Top features:   income 0.3, tenure 0.1, age 0.05" in sent.text
        assert [f["feature"] for f in sent.payload["top_features"]] == ["income", "tenure", "age"]  # ranked

    def test_a_monitor_without_score_logs_no_features(self) -> None:
        config = monitor()
        observation = read(config, {"drift_score": Decimal("0.3"), **ITEM})

        decision = evaluate(config, MonitorState(monitor_id=config.id), [observation], day(0), "v1")

        assert observation.features == {} and decision.features == ()
        assert "top_features" not in decision.as_log()


class TestCriticalFeatures:
    """A critical feature above its threshold breaches on its own, whatever the combined score."""

    def test_a_critical_feature_above_its_threshold_opens_an_episode_with_a_low_score_and_is_named(self) -> None:
        config = scored(combine="mean", critical_features=["income"])
        observation = read(config, ITEM)  # mean 0.12, below critical 0.2

        decision = evaluate(config, MonitorState(monitor_id=config.id), [observation], day(0), "v1")

        assert observation.score < config.critical and observation.critical_features == ("income",)
        assert decision.state.status is Status.RETRAINING
        assert decision.reason.startswith("critical feature income 0.3 above its threshold (drift 0.1175")

    def test_a_critical_feature_at_its_threshold_does_not_breach(self) -> None:
        config = scored(combine="mean", critical_features=["income"], feature_threshold={"income": 0.30})

        decision = evaluate(config, MonitorState(monitor_id=config.id), [read(config, ITEM)], day(0), "v1")

        assert decision.state.status is Status.OK

    def test_an_episode_does_not_close_while_a_critical_feature_still_breaches(self) -> None:
        config = scored({"reset": 0.15}, combine="mean", critical_features=["income"])
        opened = evaluate(config, MonitorState(monitor_id=config.id), [read(config, ITEM)], day(0), "v1").state
        assert opened.episode is not None
        in_alarm = opened.model_copy(update={"status": Status.ALARM})  # as if its retraining had failed

        later = evaluate(config, in_alarm, [read(config, ITEM, 1)], day(1))
        calm = evaluate(config, later.state, [read(config, {**ITEM, "income": Decimal("0.01")}, 2)], day(2))

        assert later.state.episode is not None and later.state.status is not Status.OK
        assert calm.state.status is Status.OK and calm.state.episode is None

    def test_a_non_critical_feature_above_its_threshold_does_not_breach_on_its_own(self) -> None:
        config = scored(combine="mean", critical_features=["age"])

        decision = evaluate(config, MonitorState(monitor_id=config.id), [read(config, ITEM)], day(0), "v1")

        assert decision.state.status is Status.OK


class TestMinSamples:
    """`min_samples`: a datapoint computed on fewer rows counts as missing, with that reason."""

    def test_a_datapoint_below_min_samples_counts_as_missing_and_the_reason_says_why(self) -> None:
        config = monitor(min_samples=100)
        thin = read(config, {"drift_score": Decimal("0.9"), "sample_count": Decimal(12)})

        decision = evaluate(config, MonitorState(monitor_id=config.id), [thin], day(0), "v1")

        assert decision.outcome == "insufficient_data" and decision.score is None
        assert "sample_count below min_samples 100 (12 at 2024-08-01T00:00:00+00:00)" in decision.reason

    def test_a_datapoint_at_min_samples_is_evidence(self) -> None:
        config = monitor(min_samples=100)
        enough = read(config, {"drift_score": Decimal("0.9"), "sample_count": Decimal(100)})

        decision = evaluate(config, MonitorState(monitor_id=config.id), [enough], day(0), "v1")

        assert decision.state.status is Status.RETRAINING and "min_samples" not in decision.reason

    def test_an_item_without_a_sample_count_is_judged_on_its_score(self) -> None:
        config = monitor(min_samples=100)

        observation = read(config, {"drift_score": Decimal("0.9")})

        assert observation.sample_count is None
        assert evaluate(config, MonitorState(monitor_id=config.id), [observation], day(0)).state.status is (
            Status.RETRAINING
        )

    def test_a_thin_datapoint_takes_its_slot_so_the_breaching_one_is_not_enough_for_two_of_two(self) -> None:
        config = monitor(min_samples=100, evaluation_periods=2, datapoints_to_trigger=2, missing_data="breaching")
        breach = read(config, {"drift_score": Decimal("0.9"), "sample_count": Decimal(500)}, 0)
        thin = read(config, {"drift_score": Decimal("0.01"), "sample_count": Decimal(5)}, 1)

        decision = evaluate(config, MonitorState(monitor_id=config.id), [breach, thin], day(1), "v1")

        assert decision.breaches == 2  # the thin one counts as missing, and missing data is breaching here
        assert "1 datapoint(s) counted as missing" in decision.reason


class TestBadFeatureValues:
    """A bad feature value or sample_count is bad input naming the monitor and the field."""

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({**ITEM, "income": "high"}, "income"),
            ({**ITEM, "income": float("nan")}, "income"),
            ({**ITEM, "income": True}, "income"),
            ({k: v for k, v in ITEM.items() if k != "plan"}, "plan"),
            ({**ITEM, "sample_count": "many"}, "sample_count"),
            ({**ITEM, "sample_count": float("nan")}, "sample_count"),
            ({**ITEM, "sample_count": Decimal(-1)}, "sample_count"),
        ],
    )
    def test_is_refused_naming_the_field(self, values: dict[str, object], field: str) -> None:
        with pytest.raises(BadInput) as raised:
            read(scored({"min_samples": 10}), values)

        assert (raised.value.monitor_id, raised.value.field) == ("churn-model", field)

    def test_a_nan_among_star_features_is_refused(self) -> None:
        with pytest.raises(BadInput, match="age"):
            read(monitor(score={"features": "*"}), {"age": float("nan"), "income": 0.1})


class TestFeatureMetrics:
    """The CloudWatch source: one metric per feature, read as one datapoint per instant."""

    def test_each_feature_is_a_model_monitor_metric_then_the_guards(self) -> None:
        config = monitor(score={"features": ["age", "income"]}, guards=[{"metric": "accuracy", "below": 0.9}])

        names = metric_names(config, "drift_score")

        assert names == ("feature_baseline_drift_age", "feature_baseline_drift_income", "accuracy")

    def test_the_instants_of_the_features_become_datapoints_recomputed_from_them(self) -> None:
        config = monitor(score={"features": ["age", "income"], "combine": "mean"}, evaluation_periods=2)
        series = {
            "feature_baseline_drift_age": {day(0): 0.1, day(1): 0.2, day(2): 0.4},
            "feature_baseline_drift_income": {day(0): 0.3, day(1): 0.4, day(2): 0.0},
        }

        observations = from_metrics(config, "drift_score", series)

        assert [o.at for o in observations] == [day(1), day(2)]
        assert [o.score for o in observations] == pytest.approx([0.3, 0.2])

    def test_a_feature_missing_at_an_instant_others_have_is_refused_naming_its_metric(self) -> None:
        config = monitor(score={"features": ["age", "income"]})
        series = {"feature_baseline_drift_age": {day(0): 0.1}, "feature_baseline_drift_income": {}}

        with pytest.raises(BadInput) as raised:
            from_metrics(config, "drift_score", series)

        assert raised.value.field == "feature_baseline_drift_income"


class TestScoreConfig:
    """The `score` key's errors name the monitor and the field."""

    @pytest.mark.parametrize(
        ("score", "field", "words"),
        [
            ({"combine": "median"}, "score.combine", "max"),
            ({"combine": "weighted", "features": ["a", "b"], "weights": {"a": 1}}, "score.weights", "for b"),
            ({"combine": "weighted", "features": ["a"]}, "score.weights", "needs a positive weight"),
            ({"combine": "weighted", "features": ["a"], "weights": {"a": -1}}, "score.weights.a", "negative"),
            ({"combine": "max", "weights": {"a": 1}}, "score.weights", "only combine 'weighted'"),
            ({"features": ["a"], "critical_features": ["b"]}, "score.critical_features", "b not among"),
            ({"features": []}, "score.features", "at least one"),
            ({"features": ["a", "a"]}, "score.features", "named once"),
            ({"feature_threshold": "high"}, "score.feature_threshold", ""),
            ({"features": ["a"], "feature_threshold": {"b": 0.1}}, "score.feature_threshold", "b not among"),
            ({"feature_metric": "drift_age"}, "score.feature_metric", "{feature}"),
            ({"featurs": ["a"]}, "score.featurs", "unknown key"),
        ],
    )
    def test_a_broken_score_key_is_named(self, score: dict[str, Any], field: str, words: str) -> None:
        catalog = parse_catalog(
            {"monitors": [{"id": "m", "critical": 0.2, "score": score}, {"id": "ok", "critical": 1}]}
        )

        (error,) = catalog.errors
        assert (error.monitor_id, error.field) == ("m", field)
        assert words in error.problem
        assert [m.id for m in catalog.monitors] == ["ok"]  # one monitor never breaks the others

    def test_every_feature_cannot_be_read_from_cloudwatch(self) -> None:
        source = {"type": "cloudwatch", "namespace": "aws/sagemaker/Endpoints/data-metrics"}

        catalog = parse_catalog({"monitors": [{"id": "m", "critical": 0.2, "source": source, "score": {}}]})

        assert (catalog.errors[0].field, "list the features") == ("score.features", "list the features")
        assert "list the features" in catalog.errors[0].problem

    def test_min_samples_needs_the_score_table(self) -> None:
        source = {"type": "cloudwatch", "namespace": "ns"}

        catalog = parse_catalog({"monitors": [{"id": "m", "critical": 0.2, "source": source, "min_samples": 50}]})

        assert catalog.errors[0].field == "min_samples"
