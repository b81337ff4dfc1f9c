"""The bench's world: N monitors, their configuration and scores, seeded on the moto server before any measuring.

Every monitor has one score below its warning level, written once: every tick, for every monitor, is the steady
state (nothing changes, nothing to alert). That is what nearly every hourly tick of a real fleet looks like, and it
needs no state write at any N, so moto's transaction cost (it deep-copies the table on every TransactWriteItems)
never enters the figures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Source = Literal["cloudwatch", "dynamodb"]
SOURCES: tuple[Source, ...] = ("cloudwatch", "dynamodb")

ROOT = Path(__file__).resolve().parents[3]  # same as retrain_trigger_local.template.ROOT, without importing yaml
EVALUATOR_DIR = ROOT / "functions" / "evaluator"
LAYER_DIR = ROOT / "layers" / "retrain_trigger"
SCHEDULED_EVENT = ROOT / "events" / "scheduled.json"

REGION = "us-east-1"
TICK = timedelta(hours=1)
SCORES_AT = datetime(2024, 8, 9, tzinfo=UTC)  # every monitor's one datapoint; tick k runs k hours later
MAX_TICKS = 3  # the datapoint stays fresh (max_age) for this many ticks
MAX_AGE = "4h"
THRESHOLDS = {"critical": 0.2, "reset": 0.15, "warning": 0.1}

STATE_TABLE = "bench-state"
NAIVE_STATE_TABLE = "bench-naive-state"
WINDOW_TABLE = "bench-score-windows"
SCORE_TABLE = "bench-scores"
CONFIG_BUCKET = "bench-config"
CONFIG_KEY = "monitors.json"
NAMESPACE = "Bench/Drift"
TOPIC = "bench-alerts"
QUEUE = "bench-retrain.fifo"
SHARD_QUEUE = "bench-shards"
BUS = "bench-bus"

# What every process talking to the moto server needs (dummy credentials, never real ones).
SANDBOX_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# What Lambda and template.yaml's Globals give the evaluator (tracing is not disabled: the template turns it on).
FUNCTION_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "retrain-trigger-evaluator",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "POWERTOOLS_SERVICE_NAME": "retrain-trigger",
    "POWERTOOLS_METRICS_NAMESPACE": "RetrainTrigger",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def monitor_id(index: int) -> str:
    return f"m{index:05d}"


def score(index: int) -> float:
    """Below warning (0.1): a new monitor stays OK, and so on every tick after."""
    return round(0.02 + 0.01 * (index % 7), 2)


def metric_name(index: int) -> str:
    return f"drift-{monitor_id(index)}"


def monitor_entry(index: int, source: Source) -> dict[str, Any]:
    if source == "dynamodb":
        return {"id": monitor_id(index)}
    # One metric name per monitor and no dimensions: moto compares dimensions by sorting them for every datapoint
    # of every query (O(N) per query); AWS looks a metric up by name and dimensions alike. Calls are the same.
    return {
        "id": monitor_id(index),
        "source": {"type": "cloudwatch", "namespace": NAMESPACE, "metric_name": metric_name(index), "period": "1h"},
    }


def catalog_document(indexes: Sequence[int], source: Source) -> dict[str, Any]:
    return {
        "defaults": {"source": {"type": source}, **THRESHOLDS, "max_age": MAX_AGE},
        "monitors": [monitor_entry(i, source) for i in indexes],
    }


def tick_time(tick: int) -> datetime:
    if not 1 <= tick <= MAX_TICKS:
        raise ValueError(f"tick {tick}: the scores stay fresh for ticks 1..{MAX_TICKS}")
    return SCORES_AT + tick * TICK


def scheduled_event(now: datetime) -> dict[str, Any]:
    """events/scheduled.json as EventBridge sends it at `now`."""
    event: dict[str, Any] = json.loads(SCHEDULED_EVENT.read_text())
    event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


@dataclass(frozen=True)
class World:
    """What one scenario seeded on the server: the monitors and the names both variants are configured with."""

    endpoint: str
    source: Source
    indexes: tuple[int, ...]
    topic_arn: str
    queue_url: str
    windows: bool = False  # DynamoDB source: the score window table, kept by the real stream consumer
    shard_queue_url: str = ""  # where a tick with more due monitors than SHARD_SIZE sends its shards

    @property
    def size(self) -> int:
        return len(self.indexes)

    def evaluator_environment(self) -> dict[str, str]:
        """The evaluator's settings, as template.yaml sets them: the configuration in S3 (SSM holds 8 KiB at most)."""
        return {
            "STATE_TABLE_NAME": STATE_TABLE,
            "SCORE_TABLE_NAME": SCORE_TABLE,
            "ALERT_TOPIC_ARN": self.topic_arn,
            "RETRAIN_QUEUE_URL": self.queue_url,
            "EVENT_BUS_NAME": BUS,
            "CONFIG_SOURCE": "s3",
            "CONFIG_BUCKET": CONFIG_BUCKET,
            "CONFIG_KEY": CONFIG_KEY,
            # Ticks are an hour apart in production, so each one reads the configuration once.
            "CONFIG_MAX_AGE_SECONDS": "0",
            "TICK_MINUTES": str(int(TICK.total_seconds() // 60)),
            **({"SCORE_WINDOW_TABLE_NAME": WINDOW_TABLE} if self.windows else {}),
            **({"SHARD_QUEUE_URL": self.shard_queue_url} if self.shard_queue_url else {}),
        }

    def child_environment(self) -> dict[str, str]:
        # No X-Ray daemon nor trace header here: tracing would only log that it has nowhere to send segments.
        # (The cold-import probe keeps it on, as the template does: importing the X-Ray SDK is a cold-start cost.)
        return {
            **SANDBOX_ENV,
            **FUNCTION_ENV,
            **self.evaluator_environment(),
            "POWERTOOLS_TRACE_DISABLED": "1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }


def _session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=SANDBOX_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )


def _create_table(dynamodb: DynamoDBClient, name: str, logical_id: str) -> None:
    from retrain_trigger_local.template import resource_properties  # noqa: PLC0415 - yaml only where seeding

    props = resource_properties(logical_id)
    extra: dict[str, Any] = {}
    if "GlobalSecondaryIndexes" in props:
        extra["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    dynamodb.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props["BillingMode"],
        **extra,
    )


def seed(
    endpoint: str,
    source: Source,
    indexes: Sequence[int],
    configured: Sequence[int] | None = None,
    shard_queue: bool = False,
) -> World:
    """Tables from template.yaml's own properties, the topic, queue and bus, the configuration of `configured`
    monitors (default: `indexes`), and one score for each of `indexes`, on an empty moto account (the caller resets
    the server between worlds). With `shard_queue`, the queue a too-large tick is sharded to."""
    from retrain_trigger_local.bench.windows import deliver, enable_stream, windows_available  # noqa: PLC0415 - a cycle

    session = _session()
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    for name, logical_id in (
        (STATE_TABLE, "StateTable"),
        (NAIVE_STATE_TABLE, "StateTable"),
        (SCORE_TABLE, "ScoreTable"),
    ):
        _create_table(dynamodb, name, logical_id)
    document = json.dumps(catalog_document(indexes if configured is None else configured, source))
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=CONFIG_BUCKET)
    s3.put_object(Bucket=CONFIG_BUCKET, Key=CONFIG_KEY, Body=document.encode())
    windows = source == "dynamodb" and windows_available()
    if windows:
        enable_stream(dynamodb, SCORE_TABLE)  # before the scores: the consumer reads them from the stream
    if source == "dynamodb":
        _seed_score_items(dynamodb, indexes)
    else:
        _seed_metrics(session, endpoint, indexes)
    topic_arn = session.client("sns", endpoint_url=endpoint).create_topic(Name=TOPIC)["TopicArn"]
    queue_url = session.client("sqs", endpoint_url=endpoint).create_queue(
        QueueName=QUEUE, Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    session.client("events", endpoint_url=endpoint).create_event_bus(Name=BUS)
    shards = ""
    if shard_queue:
        shards = session.client("sqs", endpoint_url=endpoint).create_queue(QueueName=SHARD_QUEUE)["QueueUrl"]
    world = World(endpoint, source, tuple(indexes), topic_arn, queue_url, windows, shards)
    if windows:
        deliver(world)
    return world


def _seed_score_items(dynamodb: DynamoDBClient, indexes: Sequence[int]) -> None:
    """Plain score items, as producers write them."""
    stamp = SCORES_AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    for start in range(0, len(indexes), 25):  # BatchWriteItem's limit
        dynamodb.batch_write_item(
            RequestItems={
                SCORE_TABLE: [
                    {
                        "PutRequest": {
                            "Item": {
                                "monitor_id": {"S": monitor_id(i)},
                                "timestamp": {"S": stamp},
                                "drift_score": {"N": str(score(i))},
                            }
                        }
                    }
                    for i in indexes[start : start + 25]
                ]
            }
        )


def _seed_metrics(session: boto3.session.Session, endpoint: str, indexes: Sequence[int]) -> None:
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
    for start in range(0, len(indexes), 1000):  # PutMetricData's limit of datums per call
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {"MetricName": metric_name(i), "Timestamp": SCORES_AT, "Value": score(i)}
                for i in indexes[start : start + 1000]
            ],
        )
