"""A naive per-monitor loop, written here from scratch: what a hand-wired evaluator does.

Per tick: read the configuration once; then for each due monitor, read its latest score (one Query, or one
GetMetricData), GetItem its state, decide with the same engine (`retrain_trigger.policy.evaluate`), publish an
alert if the engine asks for one, and PutItem the state. It imports the engine and its models, never the service,
the adapters or the wiring: it is the baseline, not a copy of the evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3

from retrain_trigger.config import CloudWatchSource, MonitorConfig, parse_catalog_json
from retrain_trigger.model import MonitorState, Observation
from retrain_trigger.policy import evaluate, is_due
from retrain_trigger_local.bench.scenario import CONFIG_BUCKET, CONFIG_KEY, NAIVE_STATE_TABLE, SCORE_TABLE, TICK

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient


@dataclass(frozen=True)
class NaiveTick:
    evaluated: int
    transitions: int


class NaiveLoop:
    """One client per service, made once; one tick per call."""

    def __init__(self, topic_arn: str) -> None:
        session = boto3.session.Session()
        self.topic_arn = topic_arn
        self.s3: S3Client = session.client("s3")
        self.dynamodb: DynamoDBClient = session.client("dynamodb")
        self.cloudwatch: CloudWatchClient = session.client("cloudwatch")
        self.sns: SNSClient = session.client("sns")
        self.evaluated = 0  # this tick's monitors so far (read when a time cap stops the tick)

    def tick(self, now: datetime, on_monitor: Callable[[int], None] | None = None) -> NaiveTick:
        body = self.s3.get_object(Bucket=CONFIG_BUCKET, Key=CONFIG_KEY)["Body"].read().decode()
        catalog = parse_catalog_json(body)
        self.evaluated = transitions = 0
        for monitor in catalog.monitors:
            if not is_due(monitor.every, now, TICK):
                continue
            key: dict[str, AttributeValueTypeDef] = {"pk": {"S": f"monitor#{monitor.id}"}, "sk": {"S": "state"}}
            item = self.dynamodb.get_item(TableName=NAIVE_STATE_TABLE, Key=key, ConsistentRead=True).get("Item")
            state = (
                MonitorState.model_validate_json(str(item["state"]["S"]))
                if item
                else MonitorState(monitor_id=monitor.id)
            )
            decision = evaluate(monitor, state, self._window(monitor, now), now, catalog.version, tick=TICK)
            if decision.new_actions:
                self.sns.publish(TopicArn=self.topic_arn, Subject=f"{monitor.id}: {decision.reason}"[:99], Message="{}")
            self.dynamodb.put_item(
                TableName=NAIVE_STATE_TABLE, Item={**key, "state": {"S": decision.state.model_dump_json()}}
            )
            self.evaluated += 1
            transitions += decision.changed
            if on_monitor is not None:
                on_monitor(self.evaluated)
        return NaiveTick(self.evaluated, transitions)

    def _window(self, monitor: MonitorConfig, now: datetime) -> list[Observation]:
        if isinstance(monitor.source, CloudWatchSource):
            return self._metric_window(monitor, monitor.source, now)
        items = self.dynamodb.query(
            TableName=monitor.source.table or SCORE_TABLE,
            KeyConditionExpression="monitor_id = :id",
            ExpressionAttributeValues={":id": {"S": monitor.id}},
            ScanIndexForward=False,
            Limit=monitor.evaluation_periods,
        )["Items"]
        return [
            Observation.checked(
                monitor.id, datetime.fromisoformat(str(i["timestamp"]["S"])), Decimal(str(i["drift_score"]["N"]))
            )
            for i in items
        ]

    def _metric_window(self, monitor: MonitorConfig, source: CloudWatchSource, now: datetime) -> list[Observation]:
        span = monitor.staleness_at(TICK) + source.period * monitor.evaluation_periods
        result: Any = self.cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "score",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": source.namespace,
                            "MetricName": source.metric_name,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in source.dimensions.items()],
                        },
                        "Period": int(source.period.total_seconds()),
                        "Stat": source.stat,
                    },
                }
            ],
            StartTime=now - span,
            EndTime=now + timedelta(seconds=1),
            ScanBy="TimestampDescending",
        )["MetricDataResults"][0]
        points = list(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
        return [Observation.checked(monitor.id, at, value) for at, value in points[: monitor.evaluation_periods]]
