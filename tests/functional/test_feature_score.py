"""A monitor whose score comes from many features, through the real evaluator handler (moto): score items with one
attribute per feature in the score table, and SageMaker Model Monitor's per-feature CloudWatch metrics."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import pytest

from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.adapters.state_table import DynamoDBStateStore
from retrain_trigger.score_items import feature_attribute
from tests.support.world import PIPELINE, TICK, World

FEATURES = {"age": 0.05, "income": 0.31, "tenure": 0.12, "plan": 0.02}
MODEL_MONITOR = "aws/sagemaker/Endpoints/data-metrics"
TOP = [{"feature": "income", "value": 0.31}, {"feature": "tenure", "value": 0.12}, {"feature": "age", "value": 0.05}]
DIMENSIONS = {"Endpoint": "churn-endpoint", "MonitoringSchedule": "churn-schedule"}


def configure(world: World, **monitor: Any) -> None:
    world.configure(
        {
            "defaults": {"every": "1d", "actions": {"pipeline": {"name": PIPELINE}}},
            "monitors": [{"id": "churn-model", "critical": 0.2, "reset": 0.15, **monitor}],
        }
    )


def put_item(world: World, at: str, features: dict[str, float], **more: Any) -> None:
    item = {"monitor_id": {"S": "churn-model"}, "timestamp": {"S": at}, "drift_score": {"N": "0.01"}}
    item |= {feature_attribute(name): {"N": str(value)} for name, value in features.items()}
    item |= {name: value if isinstance(value, dict) else {"N": str(value)} for name, value in more.items()}
    aws_client("dynamodb").put_item(TableName=world.score_table, Item=item)


def test_a_listed_feature_score_is_recomputed_from_the_item_and_names_its_top_features_everywhere(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    configure(world, score={"combine": "max", "features": list(FEATURES), "feature_threshold": 0.1})
    put_item(world, TICK, FEATURES)  # the item's own drift_score (0.01) would never breach
    service = world.evaluator.logger.name

    with caplog.at_level(logging.INFO, logger=service):
        report = world.tick()

    (monitor,) = report["monitors"]
    assert (monitor["state_after"], monitor["score"]) == ("RETRAINING", 0.31)
    (logged,) = [r for r in caplog.records if r.name == service and r.getMessage() == "evaluation"]
    assert logged.top_features == TOP
    history = DynamoDBStateStore(world.state_table).history("churn-model")
    (history,) = [h for h in history if h["kind"] == "transition"]
    assert history["extra"]["top_features"] == TOP
    (alert,) = world.alerts()  # the payload, as SQS subscribers get it (the email text is a unit spec)
    assert json.loads(alert["Message"])["top_features"] == TOP


def test_every_feature_with_a_critical_one_breaching_alone_retrains_and_the_reason_names_it(world: World) -> None:
    configure(
        world,
        score={"combine": "share_drifted", "features": "*", "feature_threshold": 0.2, "critical_features": ["income"]},
        critical=0.3,
        reset=0.2,
        guards=[{"metric": "accuracy", "below": 0.9}],
    )
    put_item(world, TICK, FEATURES, accuracy=0.7, sample_count=5000, model_version={"S": "v3"})

    report = world.tick()

    (monitor,) = report["monitors"]
    assert monitor["score"] == 0.25  # one feature of four above 0.2; accuracy and sample_count are no features
    assert monitor["state_after"] == "RETRAINING"
    assert monitor["reason"].startswith("critical feature income 0.31 above its threshold (drift 0.25")


def test_an_item_on_too_few_rows_counts_as_missing_with_that_reason(world: World) -> None:
    configure(world, min_samples=100, score={"features": list(FEATURES)})
    put_item(world, TICK, FEATURES, sample_count=12)

    report = world.tick()

    (monitor,) = report["monitors"]
    assert monitor["outcome"] == "insufficient_data"
    assert "sample_count below min_samples 100 (12 at 2024-08-09T00:00:00+00:00)" in monitor["reason"]
    assert world.executions() == []


def test_a_feature_attribute_that_is_not_a_number_refuses_the_item_naming_the_monitor_and_the_feature(
    world: World,
) -> None:
    configure(world, score={"features": list(FEATURES)})
    put_item(world, TICK, {k: v for k, v in FEATURES.items() if k != "income"}, income={"S": "high"})

    report = world.tick()

    (monitor,) = report["monitors"]
    (refused,) = monitor["refused"]
    assert refused["field"] == "income" and refused["monitor_id"] == "churn-model"
    assert world.executions() == []


def put_feature_metrics(at: str, features: dict[str, float]) -> None:
    aws_client("cloudwatch").put_metric_data(
        Namespace=MODEL_MONITOR,
        MetricData=[
            {
                "MetricName": f"feature_baseline_drift_{name}",
                "Dimensions": [{"Name": k, "Value": v} for k, v in DIMENSIONS.items()],
                "Timestamp": datetime.fromisoformat(at),
                "Value": value,
            }
            for name, value in features.items()
        ],
    )


def test_model_monitor_per_feature_metrics_are_read_in_one_get_metric_data_call(
    world: World, record_calls: Any
) -> None:
    source = {"type": "cloudwatch", "namespace": MODEL_MONITOR, "dimensions": DIMENSIONS, "stat": "Maximum"}
    configure(world, source=source, score={"combine": "mean", "features": list(FEATURES)})
    put_feature_metrics("2024-08-08T00:00:00Z", {name: 0.0 for name in FEATURES})
    put_feature_metrics(TICK, FEATURES)
    calls = record_calls(aws_client("cloudwatch"), "GetMetricData")

    report = world.tick()

    (monitor,) = report["monitors"]
    assert monitor["score"] == pytest.approx(sum(FEATURES.values()) / 4)
    assert monitor["state_after"] == "OK"  # a mean of 0.125 is below critical
    (call,) = calls
    names = sorted(q["MetricStat"]["Metric"]["MetricName"] for q in call["MetricDataQueries"])
    assert names == sorted(f"feature_baseline_drift_{name}" for name in FEATURES)
